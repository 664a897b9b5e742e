#!/usr/bin/env bash
# run.sh - livecov vs `go tool covdata` on cluster-shaped Go coverage data.
#
# usage: bench/run.sh [options]
#   --pods N          report dirs to generate (default 50; 500 = the full run)
#   --seed S          generator seed (default 1)
#   --data DIR        use this gen-go-cluster.sh output instead (no generation;
#                     --pods/--seed ignored)
#   --runs R          timed runs of the fast rows (default 5)
#   --slow-runs K     timed runs of the once-per-dir loops (default min(R,3))
#   --bins A,B        binaries for the per-binary textfmt/func rows (default: the
#                     binary with the most dirs, plus compile-all if present)
#   --anchors-only    time the existing tools only (no livecov build/rows/checks)
#   --no-build        do not run cargo; use $LIVECOV or the existing release binary
#   --only PATTERNS   time only rows whose label matches one of these
#                     comma-separated shell patterns (e.g. '*percent*,floor-cat')
#   --check-all       before timing, compare every dir's text (default: ~20 dirs)
#   --no-check        skip the correctness checks (development only: figures
#                     from an unchecked livecov are not valid results)
#   --results DIR     where to write timings (default $PA/results/<data>-<time>)
#   --keep            keep the (large) text outputs under $PA/scratch (those of
#                     a failed check are always kept)
#   --jobs J          parallel runs for the generator (default nproc)
#
# Environment: PA (default ${TMPDIR:-/tmp}/livecov-bench) caches the Go toolchain
# state, built coverage binaries, generated data ($PA/data/go-<N>-s<S>), scratch
# output and results. LIVECOV: path of the livecov binary (default
# ${CARGO_TARGET_DIR:-<repo>/target}/release/livecov, built by this script).
#
# The data is generated once per (N, seed) and reused. Before any timing, the
# livecov outputs are compared byte for byte with covdata's (percent over all
# dirs, -each text per dir, per-dir text, per-binary textfmt and func); after
# timing, every dir's text from the timed runs is compared too. Any difference
# fails the run (exit 1).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

pods=50 seed=1 data="" runs=5 slow_runs="" bins="" anchors_only=0 build=1 only=""
check_all=0 check=1 results="" keep=0 jobs=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--pods) pods="$2"; shift 2 ;;
	--seed) seed="$2"; shift 2 ;;
	--data) data="$2"; shift 2 ;;
	--runs) runs="$2"; shift 2 ;;
	--slow-runs) slow_runs="$2"; shift 2 ;;
	--bins) bins="$2"; shift 2 ;;
	--anchors-only) anchors_only=1; shift ;;
	--no-build) build=0; shift ;;
	--only) only="$2"; shift 2 ;;
	--check-all) check_all=1; shift ;;
	--no-check) check=0; shift ;;
	--results) results="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--jobs) jobs="$2"; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ -n "$slow_runs" ] || slow_runs=$(( runs < 3 ? runs : 3 ))
die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

. "$here/env.sh"
timer=(python3 "$here/lib/timeit.py")

# ------------------------------------------------------------ data
if [ -z "$data" ]; then
	data="$PA/data/go-$pods-s$seed"
	if [ ! -f "$data/manifest.tsv" ]; then
		mkdir -p "$PA/data"
		exec 9>"$data.lock"
		command -v flock >/dev/null && flock 9   # one generator per data set
		if [ ! -f "$data/manifest.tsv" ]; then
			rm -rf "$data"   # an interrupted earlier generation (ours: under $PA/data)
			say "generating $pods report dirs into $data (first time: ~5 min of Go builds)"
			nice -n 10 "$here/gen-go-cluster.sh" --seed "$seed" ${jobs:+--jobs "$jobs"} "$data" "$pods"
		fi
		exec 9>&-
	fi
fi
[ -d "$data" ] || die "no data dir $data"
data="$(cd "$data" && pwd)"
[ -f "$data/manifest.tsv" ] || die "$data has no manifest.tsv (not a gen-go-cluster.sh output, or incomplete)"
name="$(basename "$data")"
scratch="$PA/scratch/$name"
chk="$scratch/check"
mkdir -p "$scratch"
[ -n "$results" ] || results="$PA/results/$name-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$results"
results="$(cd "$results" && pwd)"
ln -sfn "$results" "$PA/results/latest" 2>/dev/null || true

# report dirs (sorted, absolute) and the comma list every -i= gets
printf '%s\n' "$data"/*/covmeta.* | sed -n 's|/covmeta\.[^/]*$||p' | LC_ALL=C sort -u >"$scratch/dirs"
ndirs=$(wc -l <"$scratch/dirs")
[ "$ndirs" -gt 0 ] || die "no report dirs (with a covmeta.* file) in $data"
[ "$ndirs" -eq "$(find "$data" -mindepth 1 -maxdepth 1 -type d | wc -l)" ] ||
	die "$data has dirs without covmeta files; the per-dir loops would disagree with -i lists"
alldirs=$(paste -sd, "$scratch/dirs")

# per-binary dir lists (from manifest.tsv: dir, binary, meta_hash, ...)
if [ -z "$bins" ]; then
	top=$(awk -F'\t' 'NR > 1 {print $2}' "$data/manifest.tsv" | sort | uniq -c | sort -k1,1nr -k2,2 | awk 'NR == 1 {print $2}')
	bins="$top"
	if [ "$top" != compile-all ] && awk -F'\t' '$2 == "compile-all" {f = 1} END {exit !f}' "$data/manifest.tsv"; then
		bins="$bins,compile-all"
	fi
fi
bindirs() { awk -F'\t' -v b="$1" -v d="$data" 'NR > 1 && $2 == b {print d "/" $1}' "$data/manifest.tsv" | LC_ALL=C sort | paste -sd, -; }
for b in ${bins//,/ }; do
	[ -n "$(bindirs "$b")" ] || die "no dirs of binary $b in $data/manifest.tsv"
done

# ------------------------------------------------------------ machine + sizes
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -sr)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "go: $(go version)"
	echo "covdata: $COVDATA"
	echo "livecov tree: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$root" && [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (uncommitted changes)' || true)"
} >"$results/machine.txt"
{
	echo "data: $data"
	echo "report dirs: $ndirs"
	echo "covmeta files: $(find "$data" -name 'covmeta.*' | wc -l)  bytes: $(find "$data" -name 'covmeta.*' -printf '%s\n' | awk '{s+=$1} END{print s+0}')"
	echo "covcounters files: $(find "$data" -name 'covcounters.*' | wc -l)  bytes: $(find "$data" -name 'covcounters.*' -printf '%s\n' | awk '{s+=$1} END{print s+0}')"
	echo "input bytes (covmeta+covcounters): $(find "$data" -name 'cov*' -printf '%s\n' | awk '{s+=$1} END{print s+0}')"
	echo "distinct binaries (meta hashes): $(ls "$data"/*/covmeta.* | sed 's/.*covmeta\.//' | sort -u | wc -l)"
	for b in ${bins//,/ }; do
		echo "per-binary rows: $b: $(bindirs "$b" | tr ',' '\n' | wc -l) dirs"
	done
} >"$results/sizes.txt"
cat "$results/machine.txt" "$results/sizes.txt" >&2

# ------------------------------------------------------------ livecov
LIVECOV="${LIVECOV:-${CARGO_TARGET_DIR:-$root/target}/release/livecov}"
case "$LIVECOV" in /*) ;; *) LIVECOV="$root/$LIVECOV" ;; esac
if [ "$anchors_only" = 0 ]; then
	if [ "$build" = 1 ]; then
		say "cargo build --release -p livecov"
		(cd "$root" && cargo build --release -p livecov) || die "cargo build failed (use --anchors-only to time the existing tools alone)"
	fi
	[ -x "$LIVECOV" ] || die "no livecov binary at $LIVECOV"
	echo "livecov: $LIVECOV ($(stat -c '%y' "$LIVECOV" | cut -d. -f1))" >>"$results/machine.txt"
fi

# ------------------------------------------------------------ correctness
fails=0
same() { # same WHAT REF OUT
	if cmp -s "$2" "$3"; then return 0; fi
	echo "MISMATCH: $1" >&2
	echo "  covdata: $2" >&2
	echo "  livecov: $3" >&2
	diff -u "$2" "$3" 2>&1 | head -20 | sed 's/^/    /' >&2 || true
	fails=$((fails + 1))
	return 1
}
run_ok() { # run_ok WHAT CMD... : the command must succeed
	local err="$chk/last.stderr"
	if ! "${@:2}" 2>"$err"; then
		echo "FAILED: $1: ${*:2:3} ... (exit status != 0)" >&2
		head -20 "$err" | sed 's/^/    /' >&2
		fails=$((fails + 1))
		return 1
	fi
}
if [ "$anchors_only" = 0 ] && [ "$check" = 1 ]; then
	say "correctness checks (livecov vs covdata, byte for byte)"
	rm -rf "$chk"
	mkdir -p "$chk/ref" "$chk/each" "$chk/one"
	: >"$chk/last.stderr"
	# 1. percent over all dirs
	"$COVDATA" percent -i="$alldirs" >"$chk/percent.covdata"
	run_ok "livecov go percent -i=<all>" sh -c 'exec "$0" go percent -i="$1" >"$2"' "$LIVECOV" "$alldirs" "$chk/percent.livecov" &&
		same "percent -i=<all $ndirs dirs>" "$chk/percent.covdata" "$chk/percent.livecov" || true
	# 2. textfmt -each (all dirs in one process) and per dir, on a sample
	if [ "$check_all" = 1 ]; then
		cp "$scratch/dirs" "$chk/sample"
	else # the first dir of every binary, then evenly spaced ones, ~20 in all
		python3 - "$data/manifest.tsv" "$scratch/dirs" >"$chk/sample" <<-'EOF'
			import sys
			rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
			dirs = [l.strip() for l in open(sys.argv[2]) if l.strip()]
			bydir = {d.rsplit("/", 1)[1]: d for d in dirs}
			pick, seen = [], set()
			for r in rows:
			    if r[1] not in seen and r[0] in bydir:
			        seen.add(r[1]); pick.append(bydir[r[0]])
			step = max(1, len(dirs) // 20)
			for d in dirs[::step]:
			    if len(pick) >= max(20, len(seen) + 3): break
			    if d not in pick: pick.append(d)
			print("\n".join(sorted(pick)))
		EOF
	fi
	run_ok "livecov go textfmt -each -i=<all> -o=DIR" "$LIVECOV" go textfmt -each -i="$alldirs" -o="$chk/each" || true
	got=$(find "$chk/each" -mindepth 1 -maxdepth 1 -name '*.txt' | wc -l)
	if [ "$got" != "$ndirs" ]; then
		echo "MISMATCH: livecov textfmt -each wrote $got .txt files for $ndirs input dirs" >&2
		fails=$((fails + 1))
	fi
	nsample=0
	while read -r d; do
		b=$(basename "$d")
		"$COVDATA" textfmt -i="$d" -o="$chk/ref/$b.txt"
		if [ -f "$chk/each/$b.txt" ]; then
			same "textfmt -each: $b" "$chk/ref/$b.txt" "$chk/each/$b.txt" || true
		else
			echo "MISSING: livecov textfmt -each wrote no $chk/each/$b.txt" >&2
			fails=$((fails + 1))
		fi
		run_ok "livecov go textfmt -i=$b" "$LIVECOV" go textfmt -i="$d" -o="$chk/one/$b.txt" &&
			same "textfmt -i=$b" "$chk/ref/$b.txt" "$chk/one/$b.txt" || true
		nsample=$((nsample + 1))
	done <"$chk/sample"
	# 3. per binary: textfmt and func over all its dirs
	for b in ${bins//,/ }; do
		bd=$(bindirs "$b")
		"$COVDATA" textfmt -i="$bd" -o="$chk/bin-$b.textfmt.covdata"
		run_ok "livecov go textfmt -i=<dirs of $b>" "$LIVECOV" go textfmt -i="$bd" -o="$chk/bin-$b.textfmt.livecov" &&
			same "textfmt -i=<all dirs of $b>" "$chk/bin-$b.textfmt.covdata" "$chk/bin-$b.textfmt.livecov" || true
		"$COVDATA" func -i="$bd" >"$chk/bin-$b.func.covdata"
		run_ok "livecov go func -i=<dirs of $b>" sh -c 'exec "$0" go func -i="$1" >"$2"' "$LIVECOV" "$bd" "$chk/bin-$b.func.livecov" &&
			same "func -i=<all dirs of $b>" "$chk/bin-$b.func.covdata" "$chk/bin-$b.func.livecov" || true
	done
	if [ "$fails" -gt 0 ]; then
		die "CORRECTNESS CHECK FAILED: $fails difference(s) between livecov and covdata (details above; files in $chk). Nothing timed."
	fi
	echo "checks passed: percent over $ndirs dirs; textfmt -each ($ndirs files, $nsample compared) and per dir ($nsample); textfmt+func of ${bins//,/, }" | tee "$results/checks.txt" >&2
elif [ "$anchors_only" = 0 ]; then
	echo "CHECKS SKIPPED (--no-check): these figures are not valid results" | tee "$results/checks.txt" >&2
fi

# ------------------------------------------------------------ timings
want() { # want LABEL: --only filter
	[ -z "$only" ] && return 0
	local p
	for p in ${only//,/ }; do
		# shellcheck disable=SC2053
		[[ "$1" == $p ]] && return 0
	done
	return 1
}
tm() { # tm LABEL RUNS [TIMER OPTIONS...] -- CMD...
	local label="$1" n="$2" opts=()
	shift 2
	while [ "$1" != "--" ]; do opts+=("$1"); shift; done
	shift
	want "$label" || return 0
	say "$label"
	"${timer[@]}" -n "$n" --timeout 3600 --strict --label "$label" --json "$results/$label.json" "${opts[@]}" -- "$@" |
		tee "$results/$label.txt" >&2 || die "$label: a run failed (non-zero exit); see $results/$label.txt"
}
lc() { [ "$anchors_only" = 0 ]; }
fresh() { echo "rm -rf '$1' && mkdir -p '$1'"; }   # --prep: empty an output dir, untimed

tm floor-cat "$runs" -- sh -c "find '$data' -name 'cov*' -print0 | xargs -0 cat >/dev/null"
tm covdata-percent-all "$runs" -- "$COVDATA" percent -i="$alldirs"
tm gotool-percent-all "$runs" -- go tool covdata percent -i="$alldirs"
lc && tm livecov-percent-all "$runs" -- "$LIVECOV" go percent -i="$alldirs"
# the same two, interleaved run by run: the median pairwise ratio resists load changes
lc && tm paired-percent-all "$runs" --vs "$(printf '%q go percent -i=%q' "$LIVECOV" "$alldirs")" -- "$COVDATA" percent -i="$alldirs"
# once per dir, sequential, with the older tool's own driver (lib/seed-textfmt.sh)
tm covdata-textfmt-seq "$slow_runs" --warmup 0 --prep "$(fresh "$scratch/covdata-each")" -- \
	env COVDATA_CMD="$COVDATA" "$here/lib/seed-textfmt.sh" "$data" "$scratch/covdata-each" 1
tm gotool-textfmt-seq "$slow_runs" --warmup 0 --prep "$(fresh "$scratch/gotool-each")" -- \
	env COVDATA_CMD="go tool covdata" "$here/lib/seed-textfmt.sh" "$data" "$scratch/gotool-each" 1
lc && tm livecov-textfmt-each "$runs" --prep "$(fresh "$scratch/livecov-each")" -- \
	"$LIVECOV" go textfmt -each -i="$alldirs" -o="$scratch/livecov-each"
lc && tm livecov-textfmt-loop "$slow_runs" --warmup 0 --prep "$(fresh "$scratch/livecov-loop")" -- \
	env COVDATA_CMD="$LIVECOV go" "$here/lib/seed-textfmt.sh" "$data" "$scratch/livecov-loop" 1
for b in ${bins//,/ }; do
	bd=$(bindirs "$b")
	tm "covdata-textfmt-bin-$b" "$runs" -- "$COVDATA" textfmt -i="$bd" -o="$scratch/bin-$b.covdata.txt"
	lc && tm "livecov-textfmt-bin-$b" "$runs" -- "$LIVECOV" go textfmt -i="$bd" -o="$scratch/bin-$b.livecov.txt"
	tm "covdata-func-bin-$b" "$runs" -- "$COVDATA" func -i="$bd"
	lc && tm "livecov-func-bin-$b" "$runs" -- "$LIVECOV" go func -i="$bd"
done

# ------------------------------------------------------------ outputs of the timed runs, all dirs
post=0
cmpdirs() { # cmpdirs WHAT REFDIR OUTDIR
	[ -d "$2" ] && [ -d "$3" ] || return 0
	if ! diff -rq "$2" "$3" >"$results/diff-$1.txt" 2>&1; then
		echo "MISMATCH after timing: $1: $(wc -l <"$results/diff-$1.txt") differing/missing files, e.g.:" >&2
		head -5 "$results/diff-$1.txt" | sed 's/^/    /' >&2
		post=$((post + 1))
	else
		rm -f "$results/diff-$1.txt"
		echo "all $ndirs text profiles identical: $1" | tee -a "$results/checks.txt" >&2
	fi
}
if want covdata-textfmt-seq; then
	if want gotool-textfmt-seq; then cmpdirs gotool-vs-covdata "$scratch/covdata-each" "$scratch/gotool-each"; fi
	if lc && [ "$check" = 1 ]; then
		if want livecov-textfmt-each; then cmpdirs livecov-each "$scratch/covdata-each" "$scratch/livecov-each"; fi
		if want livecov-textfmt-loop; then cmpdirs livecov-loop "$scratch/covdata-each" "$scratch/livecov-loop"; fi
	fi
fi
if lc && [ "$check" = 1 ]; then
	for b in ${bins//,/ }; do
		if want "covdata-textfmt-bin-$b" && want "livecov-textfmt-bin-$b"; then
			same "textfmt -i=<all dirs of $b> (timed run)" "$scratch/bin-$b.covdata.txt" "$scratch/bin-$b.livecov.txt" || post=$((post + 1))
		fi
	done
fi
[ "$keep" = 1 ] || rm -rf "$chk" "$scratch"/covdata-each "$scratch"/gotool-each "$scratch"/livecov-each "$scratch"/livecov-loop "$scratch"/bin-*.txt

# ------------------------------------------------------------ summary
echo >&2
python3 "$here/lib/summary.py" "$results"
echo "results: $results (summary.md, <row>.txt/.json)" >&2
[ "$post" = 0 ] || die "CORRECTNESS CHECK FAILED after timing: $post mismatch(es) (see $results/diff-*.txt)"
