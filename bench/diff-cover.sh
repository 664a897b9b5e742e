#!/usr/bin/env bash
# diff-cover.sh - issue 11 target: diff coverage of a 5,000-line change against a
# 2-million-statement collection at least 10x faster than diff-cover on the same inputs.
#
# usage: bench/diff-cover.sh [WORKDIR]   (default /var/tmp/livecov-bench-diff)
# env: LIVECOV (default: $CARGO_TARGET_DIR/release/livecov or target/release/livecov),
#      DIFF_COVER (default: $LIVECOV_DIFF_COVER or .ci/install-export-tools.sh's),
#      RUNS (paired runs, default 5), WARMUP (default 1), STATEMENTS (default 2000000),
#      LINES (changed lines, default 5000).
#
# bench/lib/gen_diff.py writes an LCOV tracefile of STATEMENTS one-line statements (1,000
# files) as one pod of a collection and a unified diff adding LINES executable lines to
# 100 of its files; `livecov cluster compile` makes the collection and `livecov export
# --format cobertura` diff-cover's input (untimed). Both tools get the same diff file
# (diff-cover --diff-file, livecov diff --diff), so neither runs git. Before timing, the
# two must agree on the changed lines and the uncovered ones. Then paired runs
# (bench/lib/timeit.py --swap-order), medians and the ratio: livecov diff --collection,
# and livecov diff --profile on the LCOV file itself.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${1:-/var/tmp/livecov-bench-diff}"
RUNS="${RUNS:-5}" WARMUP="${WARMUP:-1}"
STATEMENTS="${STATEMENTS:-2000000}" LINES="${LINES:-5000}"
DIFF_COVER="${DIFF_COVER:-${LIVECOV_DIFF_COVER:-$(bash "$here/../.ci/install-export-tools.sh")}}"
LIVECOV="${LIVECOV:-${CARGO_TARGET_DIR:-$here/../target}/release/livecov}"
[ -x "$LIVECOV" ] || { echo "build it first: cargo build --release -p livecov" >&2; exit 2; }
mkdir -p "$work"
cd "$work"
stamp="$STATEMENTS-$LINES"
if [ "$(cat stamp 2>/dev/null)" != "$stamp" ]; then
	rm -rf collection change.diff cobertura.xml stamp
	python3 "$here/lib/gen_diff.py" --out "$work" --statements "$STATEMENTS" \
		--changed-lines "$LINES"
	"$LIVECOV" cluster compile --collection collection >/dev/null
	"$LIVECOV" export --collection collection --format cobertura -o cobertura.xml
	echo "$stamp" > stamp
fi
info="collection/coverage/pod-0/coverage.info"
echo "inputs: $(grep -c '^DA:' "$info") statements, cobertura.xml $(du -h cobertura.xml | cut -f1), change.diff $(grep -c '^+[^+]' change.diff) added lines"

# Correctness first: the same changed lines and the same uncovered ones.
"$LIVECOV" diff --collection collection --diff change.diff --format json -o livecov.json
(cd repo && "$DIFF_COVER" ../cobertura.xml --diff-file ../change.diff \
	--json-report ../diff-cover.json >/dev/null 2>&1)
python3 - livecov.json diff-cover.json <<'PYEOF'
import json, sys
lc, dc = (json.load(open(p)) for p in sys.argv[1:3])
ours = (lc["patch"]["lines"], lc["patch"]["lines"] - lc["patch"]["covered"])
theirs = (dc["total_num_lines"], dc["total_num_violations"])
if ours != theirs:
    sys.exit("DIFFERENT: livecov (lines, uncovered) %s, diff-cover %s" % (ours, theirs))
for f in lc["files"]:
    if f["uncovered_lines"] != dc["src_stats"][f["path"]]["violation_lines"]:
        sys.exit("DIFFERENT uncovered lines in %s" % f["path"])
print("same result: %d changed lines, %d uncovered, %d files" % (ours[0], ours[1], len(lc["files"])))
PYEOF

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
dc="sh -c 'cd repo && exec $DIFF_COVER ../cobertura.xml --diff-file ../change.diff --json-report ../diff-cover.json >/dev/null 2>&1'"
python3 "$here/lib/timeit.py" -n "$RUNS" --warmup "$WARMUP" --swap-order --label diff-collection \
	--vs "$dc" -- "$LIVECOV" diff --collection collection --diff change.diff --format json -o livecov.json
python3 "$here/lib/timeit.py" -n "$RUNS" --warmup "$WARMUP" --swap-order --label diff-profile \
	--vs "$dc" -- "$LIVECOV" diff --profile "$info" --diff change.diff --format json -o livecov-profile.json
