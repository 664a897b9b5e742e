#!/usr/bin/env bash
# compile-postgres.sh - `livecov cluster compile` from scratch into SQLite (the default
# store, <collection>/livecov.db) and into PostgreSQL (--store postgres://...), timed in
# pairs on the same generated data; prints the medians and their ratio (issue 12's
# target: PostgreSQL no more than 2x the SQLite time).
#
# usage: bench/compile-postgres.sh [options]
#   --pods N       report dirs (default 500; data made by gen-go-cluster.sh on first use)
#   --seed S       generator seed (default 1)
#   --data DIR     use this gen-go-cluster.sh output instead
#   --runs R       timed pairs (default 5); the order inside a pair alternates
#   --no-build     do not run cargo; use $LIVECOV or the existing release binary
#   --results DIR  where to write timings (default $PA/results/compile-postgres-<time>)
#
# Before timing, both stores are compiled once and `livecov report --format json` of the
# two must be byte-identical (else the run fails, nothing timed).
#
# PostgreSQL: Debian's postgresql-15 ($LIVECOV_PG_BIN, else /usr/lib/postgresql/15/bin;
# installed with apt-get when missing), a server of this script's own: initdb in
# $PA/scratch/pg (as the postgres user when run as root), 127.0.0.1 and a free port,
# default durability settings (fsync on, synchronous_commit on), stopped at exit.
# Each PostgreSQL run starts from an empty database (dropped and created, untimed), as
# each SQLite run starts with no livecov.db (removed, untimed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
pods=500 seed=1 data="" runs=5 build=1 results=""
while [ $# -gt 0 ]; do
	case "$1" in
	--pods) pods="$2"; shift 2 ;;
	--seed) seed="$2"; shift 2 ;;
	--data) data="$2"; shift 2 ;;
	--runs) runs="$2"; shift 2 ;;
	--no-build) build=0; shift ;;
	--results) results="$2"; shift 2 ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
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
ndirs=$(find "$data" -mindepth 1 -maxdepth 1 -type d | wc -l)

if [ "$build" = 1 ] && [ -z "${LIVECOV:-}" ]; then
	(cd "$repo" && cargo build --release --locked -p livecov)
fi
LIVECOV="${LIVECOV:-${CARGO_TARGET_DIR:-$repo/target}/release/livecov}"
[ -x "$LIVECOV" ] || { echo "no livecov binary at $LIVECOV" >&2; exit 1; }

pgbin="${LIVECOV_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$pgbin/postgres" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="${results:-$PA/results/compile-postgres-$stamp}"
mkdir -p "$results"
scratch="$PA/scratch/compile-postgres"
rm -rf "$scratch"
mkdir -p "$scratch/collection"
ln -s "$data" "$scratch/collection/coverage"
c="$scratch/collection"

# --- the server ---------------------------------------------------------------------
pgdir="$scratch/pg"
mkdir -p "$pgdir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
	chown postgres "$pgdir"
	as_pg=(runuser -u postgres --)
fi
pw="bench-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$pw" >"$pgdir/pw"
[ "${#as_pg[@]}" = 0 ] || chown postgres "$pgdir/pw"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U livecov --auth-local=trust \
	--auth-host=scram-sha-256 --pwfile "$pgdir/pw" -E UTF8 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -o \
	"-p $port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
stop() { "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop EXIT
export PGPASSWORD="$pw"
psql() { PGOPTIONS="-c client_min_messages=warning" "$pgbin/psql" -X -q -At -h 127.0.0.1 -p "$port" -U livecov -d postgres -c "$1"; }
url="postgres://livecov@127.0.0.1:$port/bench"
fresh_pg() { psql "DROP DATABASE IF EXISTS bench" && psql "CREATE DATABASE bench"; }
fresh_sqlite() { rm -f "$c"/livecov.db "$c"/livecov.db-*; }

# --- correctness first ---------------------------------------------------------------
fresh_sqlite
fresh_pg
"$LIVECOV" cluster compile --collection "$c" 2>"$results/check-sqlite.txt"
"$LIVECOV" cluster compile --collection "$c" --store "$url" 2>"$results/check-postgres.txt"
grep -q "compiled $ndirs inputs (0 unchanged, 0 failed" "$results/check-sqlite.txt" ||
	{ echo "SQLite compile did not compile every input:" >&2; cat "$results/check-sqlite.txt" >&2; exit 1; }
grep -q "compiled $ndirs inputs (0 unchanged, 0 failed" "$results/check-postgres.txt" ||
	{ echo "PostgreSQL compile did not compile every input:" >&2; cat "$results/check-postgres.txt" >&2; exit 1; }
"$LIVECOV" report --collection "$c" --format json >"$results/report-sqlite.json"
"$LIVECOV" report --collection "$c" --store "$url" --format json >"$results/report-postgres.json"
cmp "$results/report-sqlite.json" "$results/report-postgres.json" ||
	{ echo "report --format json differs between the stores" >&2; exit 1; }
echo "check: $ndirs inputs compiled into both stores; report --format json identical" | tee "$results/checks.txt"

# --- timed pairs ---------------------------------------------------------------------
: >"$results/pairs.tsv"
time_one() { # backend -> seconds
	local t0 t1
	if [ "$1" = sqlite ]; then
		fresh_sqlite
		t0=$(date +%s.%N)
		"$LIVECOV" cluster compile --collection "$c" 2>/dev/null
	else
		fresh_pg
		t0=$(date +%s.%N)
		"$LIVECOV" cluster compile --collection "$c" --store "$url" 2>/dev/null
	fi
	t1=$(date +%s.%N)
	python3 -c "print(f'{$t1 - $t0:.3f}')"
}
for k in $(seq 1 "$runs"); do
	load="$(cut -d' ' -f1-3 /proc/loadavg)"
	if [ $((k % 2)) = 1 ]; then
		s=$(time_one sqlite); p=$(time_one postgres)
	else
		p=$(time_one postgres); s=$(time_one sqlite)
	fi
	printf '%s\t%s\t%s\t%s\n' "$k" "$s" "$p" "$load" | tee -a "$results/pairs.tsv"
done
python3 - "$results/pairs.tsv" "$ndirs" <<'EOF' | tee "$results/summary.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
s = [float(r[1]) for r in rows]
p = [float(r[2]) for r in rows]
ratios = [b / a for a, b in zip(s, p)]
ms, mp = statistics.median(s), statistics.median(p)
print(f"| compile from scratch, {sys.argv[2]} dirs | median of {len(rows)} | min | max |")
print("|---|---|---|---|")
print(f"| SQLite (`<collection>/livecov.db`) | {ms:.3f} s | {min(s):.3f} s | {max(s):.3f} s |")
print(f"| PostgreSQL (`--store postgres://`) | {mp:.3f} s | {min(p):.3f} s | {max(p):.3f} s |")
print(f"| ratio PostgreSQL / SQLite (of the medians) | {mp / ms:.2f}x | | |")
print(f"| ratio, median of the per-pair ratios | {statistics.median(ratios):.2f}x | {min(ratios):.2f}x | {max(ratios):.2f}x |")
print()
print(f"target <= 2x: {'met' if mp / ms <= 2 else 'MISSED'}")
EOF
echo "results: $results"
