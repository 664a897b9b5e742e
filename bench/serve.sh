#!/usr/bin/env bash
# serve.sh - issue 12's scale targets for `livecov serve`: with 1,000 collections of the
# 500-pod data set (17 builds each: 17,000 build pages), the index page and any build
# page answered in under 100 ms (p99, served, warm), measured with wrk on loopback; and
# a new 500-pod collection ingested (uploaded file by file and compiled) in under 5 s.
#
# usage: bench/serve.sh [options]
#   --collections N  collections served (default 1000)
#   --pods P         report dirs of the data set (default 500; gen-go-cluster.sh output)
#   --data DIR       use this gen-go-cluster.sh output instead
#   --duration D     each wrk run (default 20s); --connections C (default 8), --threads T (2)
#   --cache-bytes B  the dashboard's page budget (default 4 GiB: every page of 1,000
#                    collections, gzipped, fits; the default of serve is 512 MiB)
#   --no-build       use $LIVECOV or the existing release binary
#   --results DIR    default $PA/results/serve-<time>
#
# The store: one collection compiled from the data set into SQLite, then the root holds N
# collection directories whose livecov.db are hard links of that one file (no disk for
# 1,000 copies). The dashboard opens, reads and caches each as a collection of its own:
# N sites prepared, 17·N build pages, as with N different stores; only the bytes on disk
# are shared. Before timing, every collection's index and every build page is asked once
# (3 at a time; the cold figures are printed): "warm" as the target says.
#
# Runs (wrk, random paths from a list; wrk is installed from Debian when missing):
#   index   /c/<random of N>/index.html
#   build   /c/<random of N>/b/<random of 17>/index.html
#   hot     the build pages of the first 20 collections (340 pages, all cached)
#   api     /api/collections/<random>/builds
# Ingest: bench/lib/ingest_upload.py PUTs every file of the data set (4 connections),
# then POST .../compile; the total is the time until the store answers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
ncoll=1000 pods=500 seed=1 data="" duration=20s conns=8 threads=2 build=1 results=""
cache=$((4 << 30))
while [ $# -gt 0 ]; do
	case "$1" in
	--collections) ncoll="$2"; shift 2 ;;
	--pods) pods="$2"; shift 2 ;;
	--data) data="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--connections) conns="$2"; shift 2 ;;
	--threads) threads="$2"; shift 2 ;;
	--cache-bytes) cache="$2"; shift 2 ;;
	--no-build) build=0; shift ;;
	--results) results="$2"; shift 2 ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
export PA="${PA:-${TMPDIR:-/tmp}/livecov-bench}"
if [ -z "$data" ]; then
	data="$PA/data/go-$pods-s$seed"
	if [ ! -f "$data/manifest.tsv" ]; then
		nice -n 10 "$here/gen-go-cluster.sh" --seed "$seed" "$data" "$pods"
	fi
fi
[ -f "$data/manifest.tsv" ] || { echo "$data: not a gen-go-cluster.sh output" >&2; exit 1; }
if [ "$build" = 1 ] && [ -z "${LIVECOV:-}" ]; then
	(cd "$repo" && cargo build --release --locked -p livecov)
fi
LIVECOV="${LIVECOV:-${CARGO_TARGET_DIR:-$repo/target}/release/livecov}"
[ -x "$LIVECOV" ] || { echo "no livecov binary at $LIVECOV" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }

results="${results:-$PA/results/serve-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$results"
work="$PA/scratch/serve"
rm -rf "$work"
mkdir -p "$work/base" "$work/root" "$work/ingest"
{ uname -a; nproc; free -g | head -2; "$LIVECOV" --version; } > "$results/machine.txt" 2>&1 || true

echo "== compile the data set once ($data)"
ln -s "$data" "$work/base/coverage"
"$LIVECOV" cluster compile --collection "$work/base" > "$results/compile.txt" 2>&1
"$LIVECOV" report --collection "$work/base" --format json > "$results/report.json"
builds=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["builds"]))' "$results/report.json")
echo "   $builds builds; store $(du -h "$work/base/livecov.db" | cut -f1)"

echo "== $ncoll collections (hard links of that store)"
for i in $(seq 0 $((ncoll - 1))); do
	d="$work/root/$(printf 'c%04d' "$i")"
	mkdir "$d"
	ln "$work/base/livecov.db" "$d/livecov.db"
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token="$work/token"
echo "bench-token-$RANDOM$RANDOM" > "$token"
"$LIVECOV" serve --root "$work/root" --listen "127.0.0.1:$port" --ingest-token-file "$token" \
	--cache-bytes "$cache" \
	> "$results/serve.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

echo "== warm: every index and every build page once (3 at a time)"
python3 - "$base" "$ncoll" "$results" <<'PY'
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def get(p):
    t = time.monotonic()
    req = urllib.request.Request(base + p, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req) as r:
        r.read()
        assert r.status == 200, p
    return time.monotonic() - t
t0 = time.monotonic()
with ThreadPoolExecutor(3) as pool:
    cold = sorted(pool.map(get, [f"/c/c{i:04d}/index.html" for i in range(n)]))
builds = [b["build"] for b in json.load(urllib.request.urlopen(base + "/api/collections/c0000/builds"))]
t1 = time.monotonic()
with ThreadPoolExecutor(3) as pool:
    pages = sorted(pool.map(get, [f"/c/c{i:04d}/b/{b}/index.html" for i in range(n) for b in builds]))
t2 = time.monotonic()
print("   warmed %d indexes in %.1f s, %d build pages in %.1f s" % (n, t1 - t0, len(pages), t2 - t1))
with open(f"{out}/paths-index.txt", "w") as f:
    for i in range(n): f.write(f"/c/c{i:04d}/index.html\n")
with open(f"{out}/paths-build.txt", "w") as f:
    for i in range(n):
        for b in builds: f.write(f"/c/c{i:04d}/b/{b}/index.html\n")
with open(f"{out}/paths-hot.txt", "w") as f:
    for i in range(min(20, n)):
        for b in builds: f.write(f"/c/c{i:04d}/b/{b}/index.html\n")
with open(f"{out}/paths-api.txt", "w") as f:
    for i in range(n): f.write(f"/api/collections/c{i:04d}/builds\n")
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] * 1000
w = {"index_cold_ms": {"p50": q(cold, .5), "p99": q(cold, .99), "max": cold[-1] * 1000},
     "page_cold_ms": {"p50": q(pages, .5), "p99": q(pages, .99), "max": pages[-1] * 1000}}
json.dump(w, open(f"{out}/warm.json", "w"), indent=1)
print("   cold index p50 %.1f ms p99 %.1f ms; cold build page p50 %.1f ms p99 %.1f ms" % (
    w["index_cold_ms"]["p50"], w["index_cold_ms"]["p99"], w["page_cold_ms"]["p50"], w["page_cold_ms"]["p99"]))
PY

for run in index build hot api; do
	echo "== wrk $run ($duration, $conns connections)"
	PATHS="$results/paths-$run.txt" wrk -t"$threads" -c"$conns" -d"$duration" --latency \
		-s "$here/lib/serve_paths.lua" "$base" > "$results/wrk-$run.txt" 2>&1
	grep -E "Requests/sec|^ +(50|90|99)%|non200|Socket errors" "$results/wrk-$run.txt" | sed 's/^/   /'
done
curl -s "$base/metrics" > "$results/metrics.txt"
grep -v '^#' "$results/metrics.txt" | sed 's/^/   /'
echo "   serve RSS: $(ps -o rss= -p $spid | awk '{printf "%.0f MiB", $1/1024}')"

echo "== ingest: a new $pods-pod collection, uploaded and compiled"
for i in 1 2 3; do
	python3 "$here/lib/ingest_upload.py" "127.0.0.1:$port" "new$i" "$data" "$token" 4 \
		| tee "$results/ingest-$i.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   run %s: %d files, %.1f MiB: upload %.2f s + compile %.2f s = %.2f s" % (sys.argv[1], d["files"], d["bytes"]/2**20, d["upload_s"], d["compile_s"], d["total_s"]))' "$i"
done
curl -sf "$base/api/collections/new1/builds" | python3 -c 'import json,sys; print("   new1 serves", len(json.load(sys.stdin)), "builds")'
uptime | tee "$results/load.txt"
echo "results: $results"
