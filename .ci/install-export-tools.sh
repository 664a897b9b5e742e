#!/usr/bin/env bash
# Installs the consumers that read livecov's exports back in crates/livecov/tests/export.rs:
# xmllint (Debian libxml2-utils; validates Cobertura against coverage-04.dtd and Sonar's
# generic coverage XML against its schema) and diff-cover (PyPI; reads Cobertura like a
# CI job does), the latter into the venv .ci/install-coveragepy.sh uses. genhtml comes
# from .ci/install-llvm.sh (Debian's lcov).
#
# Idempotent: when both already run it installs nothing. It prints only the path of the
# diff-cover program (apt's and pip's output go to stderr or a log), so that
#   export LIVECOV_DIFF_COVER="$(bash .ci/install-export-tools.sh)"
# works. Override the venv with LIVECOV_COVERAGEPY_VENV.
set -euo pipefail
venv="${LIVECOV_COVERAGEPY_VENV:-/var/tmp/lc-venv-covpy}"
diff_cover="$venv/bin/diff-cover"

if ! command -v xmllint >/dev/null 2>&1; then
	log="${TMPDIR:-/var/tmp}/livecov-install-libxml2.log"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	if ! { $sudo apt-get update -q &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends libxml2-utils; } >"$log" 2>&1; then
		echo "install-export-tools.sh: apt-get install libxml2-utils failed; its output:" >&2
		cat "$log" >&2
		exit 1
	fi
fi
command -v xmllint >/dev/null 2>&1 || {
	echo "install-export-tools.sh: xmllint is still missing after installing libxml2-utils" >&2
	exit 1
}

if ! "$diff_cover" --version >/dev/null 2>&1; then
	[ -x "$venv/bin/python3" ] || python3 -m venv "$venv" >&2
	"$venv/bin/python3" -m pip install -q --disable-pip-version-check 'diff-cover>=9,<12' >&2
fi
"$diff_cover" --version >/dev/null 2>&1 || {
	echo "install-export-tools.sh: $diff_cover does not run after installing diff-cover" >&2
	exit 1
}
echo "$diff_cover"
