#!/usr/bin/env bash
# live-collect.sh - issue 9's two targets: one `livecov collect` round over 100 live Go
# processes vs the older tool's way, and the Go agent's cost inside one process.
#
# usage: bench/live-collect.sh [options]
#   --procs N        live processes (default 100)
#   --runs R         timed pairs, older way and livecov alternately (default 3)
#   --snapshots S    snapshots per block for the agent's CPU cost (default 50)
#   --requests Q     requests per arm of the latency loop (default 20000)
#   --blocks K       alternations of the latency arms (default 4, ABBA order)
#   --coverage-base P  agent ports P..P+N-1 (default 30000: outside 53700-53799, which
#                    other tests scan, and below the ephemeral range 32768-60999, where
#                    a client connection's local port would take a listener's port)
#   --service-base P   service ports P..P+N-1 (default 31000)
#   --agent FILE     build with this livecov_agent.go instead of the one inside livecov
#                    (placed in the source dir; `livecov go build` then builds it as it is):
#                    to measure an agent change without rebuilding livecov
#   --skip-collect   only the agent cost (starts one process)
#   --keep           keep the scratch outputs
#
# Environment: LIVECOV (default /var/tmp/lc-bench-head/release/livecov, else
# ${CARGO_TARGET_DIR:-target}/release/livecov); PA (see env.sh): the operator is built in
# $PA/cache/live-ops-src, results go to $PA/results/live-<date>/ (`live-latest` links it).
#
# The operator: bench/go-ops' main.go + the kube-rbac-proxy feature set (proxy tls sign
# url; ~80k blocks with -coverpkg=all), given a serving mode by lib/live_build.py and
# lib/ops_serve.go (OPS_SERVE=1: keep serving after the seeded self-traffic), built with
# `livecov go build -trimpath -covermode=atomic -coverpkg=all` (the agent added through
# -overlay). Each process runs under its own hard link op-live-NNN, so the agent's
# X-Art-Coverage-Binary header, and livecov's owner, name the process.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
agent="" procs=100 runs=3 snaps=50 requests=20000 blocks=4 cbase=30000 sbase=31000 keep=0 skip_collect=0
while [ $# -gt 0 ]; do
	case "$1" in
	--procs) procs="$2"; shift 2 ;;
	--runs) runs="$2"; shift 2 ;;
	--snapshots) snaps="$2"; shift 2 ;;
	--requests) requests="$2"; shift 2 ;;
	--blocks) blocks="$2"; shift 2 ;;
	--coverage-base) cbase="$2"; shift 2 ;;
	--service-base) sbase="$2"; shift 2 ;;
	--agent) agent="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
	--skip-collect) skip_collect=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ "$skip_collect" = 1 ] && procs=1
if [ $((cbase + procs)) -gt 53700 ] && [ "$cbase" -lt 53800 ]; then
	echo "--coverage-base $cbase: ports $cbase-$((cbase + procs - 1)) overlap 53700-53799, which other tests scan" >&2
	exit 2
fi

. "$here/env.sh"
if [ -z "${LIVECOV:-}" ]; then
	if [ -x /var/tmp/lc-bench-head/release/livecov ]; then
		LIVECOV=/var/tmp/lc-bench-head/release/livecov
	else
		LIVECOV="${CARGO_TARGET_DIR:-$here/../target}/release/livecov"
	fi
fi
[ -x "$LIVECOV" ] || { echo "no livecov at $LIVECOV: build it (cargo build --release -p livecov) or set LIVECOV" >&2; exit 2; }
"$LIVECOV" collect --help >/dev/null || { echo "$LIVECOV has no collect command" >&2; exit 2; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RES="$PA/results/live-$stamp"
RUN="$PA/scratch/live-$stamp"
mkdir -p "$RES" "$RUN/bin" "$RUN/log"
ln -sfn "live-$stamp" "$PA/results/live-latest"
load() { echo "$(date -u +%H:%M:%S) $1: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/load.txt"; }
{
	echo "date: $(date -u)"
	echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo)"
	echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "go: $(go version)"
	echo "livecov: $LIVECOV ($("$LIVECOV" --version), sha256 $(sha256sum "$LIVECOV" | cut -c1-16))"
	echo "livecov commit: $(git -C "$here/.." rev-parse HEAD 2>/dev/null || echo unknown) (of the harness's tree)"
	echo "options: procs=$procs runs=$runs snapshots=$snaps requests=$requests blocks=$blocks"
} >"$RES/machine.txt"
load start

# ------------------------------------------------------------------ build
SRC="$PA/cache/live-ops-src"
BIN="$PA/cache/live-op"
python3 "$here/lib/live_build.py" "$here/go-ops" "$SRC" proxy tls sign url
if [ -n "$agent" ]; then
	cp "$agent" "$SRC/livecov_agent.go"
	echo "agent: $agent (sha256 $(sha256sum "$agent" | cut -c1-16)), not livecov's own" >>"$RES/machine.txt"
else
	echo "agent: the one inside livecov (livecov go build)" >>"$RES/machine.txt"
fi
spec="$(go env GOVERSION)|$(sha256sum "$LIVECOV" | cut -c1-16)|$(cat "$SRC"/*.go "$SRC"/go.mod | sha256sum | cut -c1-16)"
if [ ! -x "$BIN" ] || [ "$(cat "$BIN.spec" 2>/dev/null)" != "$spec" ]; then
	echo "building the operator with the agent (livecov go build)" >&2
	(cd "$SRC" && nice -n 5 "$LIVECOV" go build -trimpath -covermode=atomic -coverpkg=all -o "$BIN.tmp" ./)
	mv "$BIN.tmp" "$BIN"
	echo "$spec" >"$BIN.spec"
fi

# ------------------------------------------------------------------ processes
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$keep" = 0 ]; then rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

busy=$(ss -Hltn | awk '{n=split($4, a, ":"); print a[n]}' |
	awk -v c="$cbase" -v s="$sbase" -v n="$procs" '($1>=c && $1<c+n) || ($1>=s && $1<s+n)' | head -5)
[ -z "$busy" ] || { echo "ports already in use: $busy" >&2; exit 2; }

: >"$RUN/names.tsv"
targets=() urls=()
for ((i = 0; i < procs; i++)); do
	name=$(printf 'op-live-%03d' "$i")
	ln -f "$BIN" "$RUN/bin/$name"
	cp=$((cbase + i)) sp=$((sbase + i))
	# 20..199 self-traffic requests, seeded per process: the processes' coverage differs
	COVERAGE_PORT=$cp LIVECOV_LISTEN_HOST=127.0.0.1 OPS_SERVE=1 OPS_LISTEN=127.0.0.1:$sp \
		"$RUN/bin/$name" -name "$name" -requests $((20 + (i * 37) % 180)) -seed $((i + 1)) \
		>"$RUN/log/$name.out" 2>"$RUN/log/$name.err" </dev/null &
	pids+=("$!")
	printf '%d\t%s\t%d\n' "$i" "$name" "$cp" >>"$RUN/names.tsv"
	targets+=("127.0.0.1:$cp")
	urls+=("http://127.0.0.1:$cp")
done
echo "started $procs processes; waiting for their self-traffic to finish" >&2
deadline=$(($(date +%s) + 600))
for ((i = 0; i < procs; i++)); do
	name=$(printf 'op-live-%03d' "$i")
	until grep -q '^serving ' "$RUN/log/$name.out" 2>/dev/null; do
		kill -0 "${pids[$i]}" 2>/dev/null || { echo "$name exited:" >&2; cat "$RUN/log/$name.err" >&2; exit 1; }
		[ "$(date +%s)" -lt "$deadline" ] || { echo "$name: not serving after 600 s" >&2; exit 1; }
		sleep 0.5
	done
	grep -q "serving coverage on 127.0.0.1:$((cbase + i)) " "$RUN/log/$name.err" ||
		{ echo "$name: the agent is not on 127.0.0.1:$((cbase + i)):" >&2; cat "$RUN/log/$name.err" >&2; exit 1; }
	grep -q ', 0 failures$' "$RUN/log/$name.out" || { echo "$name: self-traffic failed: $(cat "$RUN/log/$name.out")" >&2; exit 1; }
done
# The agent serves the protocol: identity headers on /health, a full snapshot on /coverage.
hdrs=$(curl -fsS -D - -o /dev/null "${urls[0]}/health")
for h in 'X-Art-Coverage-Server: 1' 'X-Art-Coverage-Binary: op-live-000' "X-Art-Coverage-Pid: ${pids[0]}"; do
	grep -qi "^$h" <<<"$hdrs" || { echo "GET /health: no '$h' header: $hdrs" >&2; exit 1; }
done
curl -fsS "${urls[0]}/coverage" | python3 -c '
import base64, json, sys
d = json.load(sys.stdin)
assert d["meta_filename"].startswith("covmeta.") and base64.b64decode(d["meta_data"])[:4] == b"\0cvm", d["meta_filename"]
assert d["counters_filename"].startswith("covcounters.") and base64.b64decode(d["counters_data"])[:4] == b"\0cwm", d["counters_filename"]
' || { echo "GET /coverage: not a snapshot" >&2; exit 1; }
rss=$(for p in "${pids[@]}"; do awk '/VmRSS/ {print $2}' "/proc/$p/status"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "processes: $procs serving; median RSS $((rss / 1024)) MiB" | tee -a "$RES/machine.txt" >&2
load serving

# ------------------------------------------------------------------ collection round
if [ "$skip_collect" = 0 ]; then
	older() { python3 "$here/lib/older_collect.py" "$1" "${urls[@]}"; }
	lc() { "$LIVECOV" collect --collection "$1" "${targets[@]}" 2>"$1.log" ||
		{ echo "livecov collect failed:" >&2; cat "$1.log" >&2; return 1; }; }
	# Warm-up of both ways (untimed): the first requests cover code paths of the agent's
	# own serving (encoding/json, net/http), so the checked snapshots differ only in what
	# the Go runtime does between them (GC, scheduler, GC-timed paths: lib/live_check.py).
	echo "correctness round (warm-up, then older way, then livecov)" >&2
	older "$RUN/warm-older"
	lc "$RUN/warm-C"
	older "$RUN/check-older"
	lc "$RUN/check-C"
	"$LIVECOV" report --collection "$RUN/check-C" --format json >"$RUN/check-report.json"
	python3 "$here/lib/live_check.py" --report "$RUN/check-report.json" --collection "$RUN/check-C" \
		--older "$RUN/check-older" --names "$RUN/names.tsv" --out "$RES/checks.txt"
	blocks_n=$(grep -vc '^mode:' "$RUN/check-older/000.txt")
	echo "operator: $blocks_n blocks in covdata textfmt (agent included), $(grep -o '"statements": [0-9]*' "$RUN/check-report.json" | head -1 | cut -d' ' -f2) statements (agent excluded)" |
		tee -a "$RES/machine.txt" >&2
	load "before timing"
	echo "timing: $runs pairs, older way then livecov" >&2
	python3 "$here/lib/timeit.py" -n "$runs" --warmup 0 --strict --label "live-collect-$procs" \
		--json "$RES/collect.json" --prep "rm -rf '$RUN/t-older' '$RUN/t-C' '$RUN/t-C.log'" \
		--vs "$LIVECOV collect --collection $RUN/t-C ${targets[*]}" \
		-- python3 "$here/lib/older_collect.py" "$RUN/t-older" "${urls[@]}" | tee "$RES/collect.txt"
	load "after timing"
	# Floor: the agents' side alone, the same 100 full snapshots fetched 16 at a time (as
	# livecov's default --concurrency) by curl and thrown away: no decoding, no store.
	printf '%s/coverage\n' "${urls[@]}" >"$RUN/urls.txt"
	python3 "$here/lib/timeit.py" -n "$runs" --warmup 0 --strict --label "floor-fetch-$procs" \
		--json "$RES/floor.json" -- sh -c "xargs -P 16 -n 1 curl -fsS -o /dev/null <'$RUN/urls.txt'" | tee "$RES/floor.txt"
	# The last timed livecov round, checked like the first (against the checked older outputs).
	"$LIVECOV" report --collection "$RUN/t-C" --format json >"$RUN/t-report.json"
	python3 "$here/lib/live_check.py" --report "$RUN/t-report.json" --collection "$RUN/t-C" \
		--older "$RUN/check-older" --names "$RUN/names.tsv" --out "$RES/checks-after.txt"
fi

# ------------------------------------------------------------------ agent cost
echo "agent cost on op-live-000 (pid ${pids[0]})" >&2
load "before agent cost"
python3 "$here/lib/agent_cost.py" --pid "${pids[0]}" --coverage-port "$cbase" --service-port "$sbase" \
	--snapshots "$snaps" --requests "$requests" --blocks "$blocks" \
	--collector "exec '$LIVECOV' collect --collection '$RUN/watch-C' --watch 1s 127.0.0.1:$cbase" \
	--collector-log "$RUN/watch.log" --json "$RES/agent.json" | tee "$RES/agent.txt"
cp "$RUN/watch.log" "$RES/watch.log"
load "after agent cost"

python3 "$here/lib/live_summary.py" "$RES" | tee "$RES/summary.md"
echo "results: $RES" >&2
