#!/usr/bin/env bash
# lcov-merge.sh - issue 10 target: reading and merging 1 GB of LCOV at least 10x faster
# than `lcov -a` (Debian's lcov), memory bounded by the largest file, not the sum.
#
# usage: bench/lcov-merge.sh [WORKDIR]   (default /var/tmp/livecov-bench-lcov)
# env: LIVECOV (as in py-combine.sh), FILES (default 50), MIB (per file, default 20.5),
#      RUNS (livecov runs, default 3), LCOV_RUNS (lcov -a runs, default 1: it is slow).
#
# Seeds are real producers' tracefiles: gcc + `lcov -c` and `llvm-cov export` output from
# livecov-formats' test data, and `coverage lcov` of one of the Python bench's data files
# when that exists (WORKDIR/../livecov-bench-pycombine). bench/lib/gen_lcov.py replicates
# them with varied counts into FILES tracefiles of MIB MiB sharing one set of SF blocks.
# Correctness first: per-file DA and FNDA hits of both merged files equal
# (bench/lib/lcov_da.py). Branch records are merged by both (lcov_branch_coverage=1).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${1:-/var/tmp/livecov-bench-lcov}"
FILES="${FILES:-50}" MIB="${MIB:-20.5}" RUNS="${RUNS:-3}" LCOV_RUNS="${LCOV_RUNS:-1}"
LIVECOV="${LIVECOV:-${CARGO_TARGET_DIR:-$here/../target}/release/livecov}"
[ -x "$LIVECOV" ] || { echo "build it first: cargo build --release -p livecov" >&2; exit 2; }
seeds="$here/../crates/livecov-formats/tests/data/lcov"
mkdir -p "$work"
cd "$work"
set -- "$seeds/gcc-lcov-capture.info" "$seeds/llvm-cov-export.info"
[ -s "$work/seed-coverage-py.info" ] && set -- "$@" "$work/seed-coverage-py.info"
if [ ! -f "$work/in/.done-$FILES-$MIB" ]; then
	rm -rf "$work/in"
	python3 "$here/lib/gen_lcov.py" --out "$work/in" --files "$FILES" --mib-per-file "$MIB" "$@"
	touch "$work/in/.done-$FILES-$MIB"
fi
echo "inputs: $FILES tracefiles, $(du -sh --apparent-size "$work/in" | cut -f1) in all, largest $(ls -S "$work/in" | head -1 | xargs -I{} du -h --apparent-size "$work/in/{}" | cut -f1)"
lcov_args=()
for f in "$work"/in/*.info; do lcov_args+=(-a "$f"); done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
# Correctness (and lcov's one timed run: it is slow).
python3 "$here/lib/timeit.py" -n "$LCOV_RUNS" --warmup 0 --label "lcov -a" \
	-- lcov --quiet --rc lcov_branch_coverage=1 "${lcov_args[@]}" -o lcov.info
"$LIVECOV" lcov merge --no-function-end-lines -o livecov.info "$work"/in/*.info
python3 "$here/lib/lcov_da.py" livecov.info lcov.info
python3 "$here/lib/timeit.py" -n "$RUNS" --warmup 1 --label "livecov lcov merge" \
	-- "$LIVECOV" lcov merge -o livecov.info "$work"/in/*.info
