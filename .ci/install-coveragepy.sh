#!/usr/bin/env bash
# Installs coverage.py (PyPI `coverage`) into a private venv, once, and prints the path of
# the venv's python. The coverage.py tests of livecov-formats
# (crates/livecov-formats/tests/coveragepy.rs) regenerate their golden data files with it
# and compare livecov's reading with coverage.py's own `coverage json` and `combine`; they
# find it through LIVECOV_COVERAGEPY_PYTHON or this venv.
#
# Idempotent: a second run only checks that the installed coverage.py imports. Override
# the venv with LIVECOV_COVERAGEPY_VENV. Output of pip goes to stderr, so that
#   export LIVECOV_COVERAGEPY_PYTHON="$(bash .ci/install-coveragepy.sh)"
# works.
set -euo pipefail
venv="${LIVECOV_COVERAGEPY_VENV:-/var/tmp/lc-venv-covpy}"
python="$venv/bin/python3"

works() { "$python" -c 'import coverage, coverage.sqldata' >/dev/null 2>&1; }

if ! works; then
	[ -x "$python" ] || python3 -m venv "$venv" >&2
	"$python" -m pip install -q --disable-pip-version-check 'coverage>=7.10,<8' >&2
fi
works || {
	echo "install-coveragepy.sh: $python cannot import coverage after installing it" >&2
	exit 1
}
echo "$python"
