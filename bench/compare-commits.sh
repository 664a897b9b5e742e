#!/usr/bin/env bash
# compare-commits.sh - `livecov cluster compile` and `cluster render` at two commits,
# timed in alternating pairs on the same data (issue 8: "no more than 10% slower").
#
# usage: bench/compare-commits.sh [options] BASE HEAD
#   BASE, HEAD        commits of this repository (anything git rev-parse takes)
#   --pods N          report dirs to generate (default 200)
#   --seed S          generator seed (default 1)
#   --ops K           operator binaries of the generator (default 6; the data is
#                     always made with --no-xl: $PA/data/go-<N>-s<S>-noxl-ops<K>)
#   --data DIR        use this gen-go-cluster.sh output instead (no generation)
#   --runs R          timed pairs per row, after 1 warm-up pair (default 5)
#   --limit X         head/base ratio the verdict column allows (default 1.10)
#   --work DIR        worktrees, binaries, collections and results (default
#                     /var/tmp/lc-bench)
#   --target-prefix P cargo target dirs P-base and P-head (default /var/tmp/lc-bench);
#                     one per role, so a new HEAD rebuilds incrementally
#   --rebuild         build again even if DIR/bin/livecov-<commit> exists
#   --keep-worktrees  keep the worktrees of the two commits (default: removed after
#                     their build; only the binaries are needed)
#   --build-only      build (or find) the two binaries, print their paths and stop
#
# Steps: (1) a detached `git worktree add` of each commit under DIR, built with
# `nice -n 5 cargo build --release -p livecov` and copied to DIR/bin/livecov-<commit>
# (reused by later runs: a commit's sources do not change); (2) the data, generated
# once with gen-go-cluster.sh (several minutes of Go builds the first time); (3) one
# collection per commit, DIR/coll-{base,head}, whose `coverage` is a symlink to the
# data; (4) checks, before any timing: each compiles every input (none failed), the
# two `livecov report --format json` agree on every build and owner (statements,
# covered, pods; lib/commits.py same-report), a second compile finds every input
# unchanged and a second render every build page unchanged; (5) rows, each with
# `lib/timeit.py --vs --swap-order` (head and base in turn, which one first
# alternating from pair to pair; the ratio is per pair): compile from scratch (--prep
# removes both livecov.db*), compile with nothing changed, render --force, render
# with nothing changed; the load average is read before and after each row; (6)
# untimed compiles from scratch with LIVECOV_TIMINGS=1, 3 per commit in turn
# (phases.txt: where a difference comes from).
#
# Results: DIR/results/<base>-<head>-<UTC time>/ (DIR/results/latest links to it):
# machine.txt, checks.txt, load.txt, <row>.txt and <row>.json (timeit.py), phases.txt,
# summary.md (the table, also printed). Exit status 1 if a build or check fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

pods=200 seed=1 ops=6 data="" runs=5 limit=1.10 work=/var/tmp/lc-bench
tprefix=/var/tmp/lc-bench rebuild=0 keep_wt=0 build_only=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--pods) pods="$2"; shift 2 ;;
	--seed) seed="$2"; shift 2 ;;
	--ops) ops="$2"; shift 2 ;;
	--data) data="$2"; shift 2 ;;
	--runs) runs="$2"; shift 2 ;;
	--limit) limit="$2"; shift 2 ;;
	--work) work="$2"; shift 2 ;;
	--target-prefix) tprefix="$2"; shift 2 ;;
	--rebuild) rebuild=1; shift ;;
	--keep-worktrees) keep_wt=1; shift ;;
	--build-only) build_only=1; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "compare-commits.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
[ "${#args[@]}" -eq 2 ] || { usage >&2; exit 2; }
die() { echo "compare-commits.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
[ "$runs" -ge 1 ] 2>/dev/null || die "--runs must be a positive number, not '$runs'"

base=$(git -C "$root" rev-parse --verify --quiet "${args[0]}^{commit}") || die "BASE '${args[0]}' is not a commit of $root"
head=$(git -C "$root" rev-parse --verify --quiet "${args[1]}^{commit}") || die "HEAD '${args[1]}' is not a commit of $root"
mkdir -p "$work/bin"
work="$(cd "$work" && pwd)"

# ------------------------------------------------------------ binaries
# build ROLE SHA: DIR/bin/livecov-<sha> from a clean worktree of SHA.
build() {
	local role="$1" sha="$2" short="${2:0:12}"
	local bin="$work/bin/livecov-$short" src="$work/src-$short" target="$tprefix-$role"
	if [ "$rebuild" = 0 ] && [ -x "$bin" ]; then
		say "$role $short: reusing $bin"
		return 0
	fi
	if [ -d "$src" ]; then
		[ "$(git -C "$src" rev-parse HEAD)" = "$sha" ] || die "$src exists but is not at $sha"
		[ -z "$(git -C "$src" status --porcelain)" ] || die "$src has local changes; remove it (git worktree remove --force $src)"
	else
		git -C "$root" worktree add --detach "$src" "$sha" >/dev/null 2>&1 ||
			die "git worktree add $src $sha failed"
	fi
	say "$role $short: cargo build --release -p livecov (CARGO_TARGET_DIR=$target; a cold build takes 10+ min)"
	(cd "$src" && CARGO_TARGET_DIR="$target" nice -n 5 cargo build --release -p livecov) >&2 ||
		die "$role $short: cargo build failed"
	cp "$target/release/livecov" "$bin.tmp"
	mv "$bin.tmp" "$bin"
	if [ "$keep_wt" = 0 ]; then
		git -C "$root" worktree remove "$src" || echo "compare-commits.sh: could not remove the worktree $src" >&2
	fi
}
build base "$base"
build head "$head"
LB="$work/bin/livecov-${base:0:12}" LH="$work/bin/livecov-${head:0:12}"
if [ "$build_only" = 1 ]; then
	echo "base: $LB"
	echo "head: $LH"
	exit 0
fi

# ------------------------------------------------------------ data
. "$here/env.sh"
if [ -z "$data" ]; then
	data="$PA/data/go-$pods-s$seed-noxl-ops$ops"
	if [ ! -f "$data/manifest.tsv" ]; then
		mkdir -p "$PA/data"
		exec 9>"$data.lock"
		command -v flock >/dev/null && flock 9   # one generator per data set
		if [ ! -f "$data/manifest.tsv" ]; then
			rm -rf "$data"   # an interrupted earlier generation (ours: under $PA/data)
			say "generating $pods report dirs into $data (first time: several minutes of Go builds)"
			nice -n 10 "$here/gen-go-cluster.sh" --seed "$seed" --no-xl --ops "$ops" "$data" "$pods" ||
				die "gen-go-cluster.sh failed"
		fi
		exec 9>&-
	fi
fi
[ -d "$data" ] || die "no data dir $data"
data="$(cd "$data" && pwd)"
[ -f "$data/manifest.tsv" ] || die "$data has no manifest.tsv (not a gen-go-cluster.sh output, or incomplete)"
ndirs=$(find "$data" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$ndirs" -gt 0 ] || die "no report dirs in $data"

results="$work/results/${base:0:7}-${head:0:7}-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$results"
ln -sfn "$results" "$work/results/latest"
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "base: $base $(git -C "$root" log -1 --format='%ci %s' "$base" | cut -c1-100)"
	echo "head: $head $(git -C "$root" log -1 --format='%ci %s' "$head" | cut -c1-100)"
	echo "data: $data ($ndirs report dirs, $(find "$data" -name 'covcounters.*' | wc -l) counter files, $(du -sh "$data" | cut -f1))"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), nproc $(nproc)"
	echo "kernel: $(uname -r); rustc: $(rustc --version 2>/dev/null || echo '?'); $(go version)"
	echo "runs: $runs pairs per row after 1 warm-up pair"
} >"$results/machine.txt"
cat "$results/machine.txt" >&2

# ------------------------------------------------------------ collections and checks
CB="$work/coll-base" CH="$work/coll-head"
for c in "$CB" "$CH"; do
	mkdir -p "$c"
	rm -rf "$c"/livecov.db* "$c/site" "$c/coverage"
	ln -s "$data" "$c/coverage"
done
checks="$results/checks.txt"
: >"$checks"
# expect WHAT ERE COMMAND...: runs COMMAND; its exit status must be 0 and its stderr match ERE.
expect() {
	local what="$1" ere="$2" err="$results/check.stderr"
	shift 2
	if ! "$@" >/dev/null 2>"$err"; then
		echo "FAILED: $what: $* (exit status != 0):" | tee -a "$checks" >&2
		head -20 "$err" | sed 's/^/    /' | tee -a "$checks" >&2
		exit 1
	fi
	if ! grep -Eq "$ere" "$err"; then
		echo "FAILED: $what: expected /$ere/ on stderr, got:" | tee -a "$checks" >&2
		head -20 "$err" | sed 's/^/    /' | tee -a "$checks" >&2
		exit 1
	fi
	echo "ok: $what: $(grep -E "$ere" "$err" | head -1)" >>"$checks"
}
for role in base head; do
	if [ "$role" = base ]; then L="$LB" C="$CB"; else L="$LH" C="$CH"; fi
	expect "$role: compile from scratch" "compiled $ndirs inputs \\(0 unchanged, 0 failed" \
		"$L" cluster compile --collection "$C"
	expect "$role: compile, nothing changed" "compiled 0 inputs \\($ndirs unchanged, 0 failed" \
		"$L" cluster compile --collection "$C"
	"$L" report --collection "$C" --format json >"$results/report-$role.json" ||
		die "$role: livecov report --format json failed"
done
python3 "$here/lib/commits.py" same-report "$results/report-base.json" "$results/report-head.json" >>"$checks" ||
	{ cat "$checks" >&2; die "the two commits' stores differ (see above); nothing timed"; }
nb=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["builds"]))' "$results/report-head.json")
for role in base head; do
	if [ "$role" = base ]; then L="$LB" C="$CB"; else L="$LH" C="$CH"; fi
	expect "$role: render" "render: $nb build pages written" \
		"$L" cluster render --collection "$C" --output-dir "$C/site"
	expect "$role: render, nothing changed" "render: 0 build pages written, $nb unchanged" \
		"$L" cluster render --collection "$C" --output-dir "$C/site"
done
cat "$checks" >&2

# ------------------------------------------------------------ timed rows
timer=(python3 "$here/lib/timeit.py")
: >"$results/load.txt"
: >"$results/rows.tsv"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# row LABEL DESCRIPTION [--prep CMD] -- ARGS...: times `livecov ARGS` of head (A) and
# base (B) in turn; @C in ARGS is each commit's collection.
row() {
	local label="$1" desc="$2" prep=()
	shift 2
	if [ "${1:-}" = --prep ]; then prep=(--prep "$2"); shift 2; fi
	if [ "${1:-}" = -- ]; then shift; fi
	local ha=() ba=() a
	for a in "$@"; do ha+=("${a//@C/$CH}"); ba+=("${a//@C/$CB}"); done
	local bcmd
	bcmd=$(printf '%q ' "$LB" "${ba[@]}")
	echo "$label before $(loadavg)" >>"$results/load.txt"
	say "$label: $desc"
	"${timer[@]}" -n "$runs" --warmup 1 --swap-order --strict --label "$label" --json "$results/$label.json" "${prep[@]}" \
		--vs "$bcmd" -- "$LH" "${ha[@]}" | tee "$results/$label.txt" >&2 ||
		die "$label: a run exited non-zero (see $results/$label.txt)"
	echo "$label after $(loadavg)" >>"$results/load.txt"
	printf '%s\t%s\n' "$label" "$desc" >>"$results/rows.tsv"
}
row compile-scratch '`cluster compile`, fresh store' --prep "rm -f '$CB'/livecov.db* '$CH'/livecov.db*" -- \
	cluster compile --collection @C
row compile-nochange '`cluster compile`, nothing changed' -- cluster compile --collection @C
row render-force "\`cluster render --force\`, $nb pages" -- cluster render --collection @C --output-dir @C/site --force
row render-nochange '`cluster render`, nothing changed' -- cluster render --collection @C --output-dir @C/site

# ------------------------------------------------------------ phases (untimed)
for i in 1 2 3; do
	for role in base head; do
		if [ "$role" = base ]; then L="$LB" C="$CB"; else L="$LH" C="$CH"; fi
		rm -f "$C"/livecov.db*
		{ echo "== $role ($i): LIVECOV_TIMINGS=1 livecov cluster compile (from scratch), load $(loadavg)"
		  LIVECOV_TIMINGS=1 "$L" cluster compile --collection "$C" 2>&1 >/dev/null; } >>"$results/phases.txt" ||
			die "$role: compile with LIVECOV_TIMINGS failed"
	done
done

echo >&2
sed 's/^/    /' "$results/machine.txt"
python3 "$here/lib/commits.py" table "$results" --limit "$limit"
echo "results: $results" >&2
