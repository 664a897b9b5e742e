#!/usr/bin/env bash
# Installs coverage.py (PyPI `coverage`) into a private venv, once, and prints the path of
# the venv's python. The coverage.py tests of livecov-formats
# (crates/livecov-formats/tests/coveragepy.rs) regenerate their golden data files with it
# and compare livecov's reading with coverage.py's own `coverage json` and `combine`; they
# find it through LIVECOV_COVERAGEPY_PYTHON or this venv.
#
# The version is pinned: the committed goldens (tests/data/lcov/coverage-py.lcov and the
# coverage.py data files) were made by it, and coverage.py 7.18 moved the FN line of a
# function from its `def` to its first body line, which failed a clean CI run the day it
# was released. Move the pin and regenerate the goldens together.
#
# Idempotent: a second run only checks that the pinned coverage.py imports. Override
# the venv with LIVECOV_COVERAGEPY_VENV. Output of pip goes to stderr, so that
#   export LIVECOV_COVERAGEPY_PYTHON="$(bash .ci/install-coveragepy.sh)"
# works.
set -euo pipefail
venv="${LIVECOV_COVERAGEPY_VENV:-/var/tmp/lc-venv-covpy}"
python="$venv/bin/python3"

pin="7.17.5"
works() {
	[ "$("$python" -c 'import coverage, coverage.sqldata; print(coverage.__version__)' 2>/dev/null)" = "$pin" ]
}

if ! works; then
	[ -x "$python" ] || python3 -m venv "$venv" >&2
	"$python" -m pip install -q --disable-pip-version-check "coverage==$pin" >&2
fi
works || {
	echo "install-coveragepy.sh: $python cannot import coverage $pin after installing it" >&2
	exit 1
}
echo "$python"
