#!/usr/bin/env bash
# py-combine.sh - issue 10 target: combining 1,000 coverage.py parallel data files at least
# 20x faster than `coverage combine`, same result.
#
# usage: bench/py-combine.sh [WORKDIR]   (default /var/tmp/livecov-bench-pycombine)
# env: LIVECOV (default: target/release/livecov or $CARGO_TARGET_DIR/release/livecov),
#      WARMUP (untimed runs of each first, default 1),
#      PY (a python with coverage.py; default $LIVECOV_COVERAGEPY_PYTHON or the venv of
#      .ci/install-coveragepy.sh), RUNS (default 3), M (data files, default 1000).
#
# Generates M data files with ../shared/bench/gen-py-cluster.sh (branch mode; reused when
# present), checks that `livecov py combine` gives exactly the lines and arcs per file
# `coverage combine` gives (read back through coverage.py's CoverageData), then times both
# (paired, bench/lib/timeit.py) and prints the ratio. coverage combine runs with --keep
# into a fresh out/.coverage each time, so both read the same inputs every run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${1:-/var/tmp/livecov-bench-pycombine}"
M="${M:-1000}" RUNS="${RUNS:-3}" WARMUP="${WARMUP:-1}"
PY="${PY:-${LIVECOV_COVERAGEPY_PYTHON:-$(bash "$here/../.ci/install-coveragepy.sh")}}"
LIVECOV="${LIVECOV:-${CARGO_TARGET_DIR:-$here/../target}/release/livecov}"
[ -x "$LIVECOV" ] || { echo "build it first: cargo build --release -p livecov" >&2; exit 2; }
mkdir -p "$work"
data="$work/data"
if [ "$(find "$data" -name '.coverage.*' 2>/dev/null | wc -l)" != "$M" ]; then
	rm -rf "$data"
	# The generator runs under its own venv dir; point it at the coverage.py venv.
	mkdir -p "$work/pa" && ln -sfn "$(dirname "$(dirname "$PY")")" "$work/pa/venv"
	PA="$work/pa" bash "$here/../../shared/bench/gen-py-cluster.sh" "$data" "$M"
fi
echo "inputs: $(find "$data" -name '.coverage.*' | wc -l) data files, $(du -sh "$data" | cut -f1)"
cd "$work"
# Correctness first.
"$LIVECOV" py combine -o livecov.json "$data"/*/
# The data file's name must be .coverage: coverage combine looks for <its name>.* files.
rm -rf out && mkdir out
"$PY" -m coverage combine --keep --quiet --data-file=out/.coverage "$data"/*/
"$PY" "$here/lib/covpy_dump.py" out/.coverage > coverage.json
"$PY" - livecov.json coverage.json <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
if a != b:
    diff = [k for k in sorted(set(a["files"]) | set(b["files"])) if a["files"].get(k) != b["files"].get(k)]
    sys.exit("DIFFERENT: %d files differ, first %s" % (len(diff), diff[:3]))
print("same result: %d files, %d lines, %d arcs (%s)" % (
    len(a["files"]), sum(len(f["executed_lines"]) for f in a["files"].values()),
    sum(len(f.get("arcs", [])) for f in a["files"].values()), a["measurement"]))
PYEOF
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
python3 "$here/lib/timeit.py" -n "$RUNS" --warmup "$WARMUP" --label py-combine \
	--vs "sh -c 'rm -f out/.coverage; exec $PY -m coverage combine --keep --quiet --data-file=out/.coverage $data/*/'" \
	-- "$LIVECOV" py combine -o livecov.json $data/*/
