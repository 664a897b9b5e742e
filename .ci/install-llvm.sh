#!/usr/bin/env bash
# Installs the real LCOV producers and consumers that crates/livecov-formats/tests/lcov.rs
# runs: clang (`-fprofile-instr-generate -fcoverage-mapping`, with its profile runtime from
# libclang-rt-dev), llvm-profdata and llvm-cov (`export -format=lcov`), gcc/gcov, and
# Debian's lcov 1.x (`lcov --capture`, `lcov --summary`, `genhtml`).
#
# Idempotent: when every program already runs it installs nothing. It prints nothing but
# errors (apt's output goes to a log under /var/tmp, shown only when apt fails), so a test
# script can call it unconditionally.
set -euo pipefail

have_all() {
	for p in clang llvm-profdata llvm-cov gcc gcov lcov genhtml; do
		command -v "$p" >/dev/null 2>&1 || return 1
	done
	# clang links the profile runtime from libclang-rt-dev, a separate package.
	echo 'int main(void) { return 0; }' |
		clang -fprofile-instr-generate -fcoverage-mapping -x c - -o /dev/null >/dev/null 2>&1
}

if ! have_all; then
	log="${TMPDIR:-/var/tmp}/livecov-install-llvm.log"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	if ! { $sudo apt-get update -q &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends clang libclang-rt-dev llvm gcc lcov; } >"$log" 2>&1; then
		echo "install-llvm.sh: apt-get install clang libclang-rt-dev llvm gcc lcov failed; its output:" >&2
		cat "$log" >&2
		exit 1
	fi
fi
if ! have_all; then
	missing=0
	for p in clang llvm-profdata llvm-cov gcc gcov lcov genhtml; do
		if ! command -v "$p" >/dev/null 2>&1; then
			echo "install-llvm.sh: $p is still missing" >&2
			missing=1
		fi
	done
	[ "$missing" -eq 1 ] ||
		echo "install-llvm.sh: clang cannot link -fprofile-instr-generate (libclang-rt-dev)" >&2
	exit 1
fi
