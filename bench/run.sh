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
#   --older-runs N    timed runs of the older pipeline row (cluster-older-pipeline,
#                     80-140 s each at 500 dirs; default min(slow runs, 2))
#   --rss-subset N    report dirs of the subset collection whose compile peak RSS
#                     is shown beside the all-dirs one (default 50; 0: no subset)
#   --allow-compile-mismatch
#                     when livecov report's per-build totals differ from covdata
#                     textfmt's, time anyway (the failure is printed, written to
#                     checks.txt and summary.md, and the exit status is 1)
#   --no-check        skip the correctness checks (development only: figures
#                     from an unchecked livecov are not valid results)
#   --results DIR     where to write timings (default $PA/results/<data>-<time>)
#   --html-dir DIR    where the HTML rows write (profiles, collection, outputs of
#                     both tools) in DIR/<data>-html (default $PA/scratch/<data>/html).
#                     A tmpfs (e.g. /dev/shm) takes the disk out: livecov writes one
#                     file per source file (~15k), go tool cover one per build
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
# dirs, -each text per dir, per-dir text, per-binary textfmt and func), and the
# per-build statements/covered statements of `livecov report` after `livecov
# cluster compile` are compared with covdata textfmt's; after timing, every
# dir's text from the timed runs is compared too. Any difference fails the run
# (exit 1).
#
# HTML rows (--only 'html*'): `livecov go html` of compile-all vs `go tool cover
# -html` of its merged profile, and `livecov cluster render` of every build vs
# `go tool cover -html` once per build; the per-file totals on livecov's pages are
# checked against the merged text profiles first (lib/html_check.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

pods=50 seed=1 data="" runs=5 slow_runs="" bins="" anchors_only=0 build=1 only=""
check_all=0 check=1 results="" keep=0 jobs="" older_runs="" rss_subset=50 allow_cmis=0 html_dir=""
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
	--older-runs) older_runs="$2"; shift 2 ;;
	--rss-subset) rss_subset="$2"; shift 2 ;;
	--allow-compile-mismatch) allow_cmis=1; shift ;;
	--no-check) check=0; shift ;;
	--results) results="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--html-dir) html_dir="$2"; shift 2 ;;
	--jobs) jobs="$2"; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ -n "$slow_runs" ] || slow_runs=$(( runs < 3 ? runs : 3 ))
[ -n "$older_runs" ] || older_runs=$(( slow_runs < 2 ? slow_runs : 2 ))
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

want() { # want LABEL: --only filter
	[ -z "$only" ] && return 0
	local p
	for p in ${only//,/ }; do
		# shellcheck disable=SC2053
		[[ "$1" == $p ]] && return 0
	done
	return 1
}

# ------------------------------------------------------------ cluster collections
# `livecov cluster compile --collection C` reads C/coverage/<dir>/. C/coverage is
# a symlink to the data dir (compile lists coverage/ without following symlinked
# entries: a coverage/ dir *of* symlinks compiles nothing). The subset collection
# (peak RSS at fewer reports, same builds) holds hard links of --rss-subset dirs:
# the first dir of every binary, then evenly spaced ones.
coll="$scratch/collection"
subn=0
if [ "$rss_subset" -gt 0 ] && [ "$rss_subset" -lt "$ndirs" ]; then subn=$rss_subset; fi
subcoll="$scratch/collection-sub$subn"
cluster_rows() { # any cluster-compile row wanted?
	lc || return 1
	want cluster-compile-scratch || want cluster-compile-nochange ||
		{ [ "$subn" -gt 0 ] && want "cluster-compile-scratch-sub$subn"; }
}
lc() { [ "$anchors_only" = 0 ]; }
mkcoll() { # mkcoll DIR: a collection whose coverage/ is the data
	rm -rf "$1"
	mkdir -p "$1"
	ln -s "$data" "$1/coverage"
}
compile_expect() { # compile_expect WHAT COLLECTION ERE: compile; its summary line must match ERE
	local err="$scratch/compile.stderr"
	if ! "$LIVECOV" cluster compile --collection "$2" 2>"$err"; then
		echo "FAILED: $1: livecov cluster compile --collection $2 (exit status != 0):" >&2
		head -20 "$err" | sed 's/^/    /' >&2
		return 1
	fi
	if ! grep -Eq "$3" "$err"; then
		echo "FAILED: $1: expected /$3/ in compile's output, got:" >&2
		head -20 "$err" | sed 's/^/    /' >&2
		return 1
	fi
}
rm -rf "$coll" "$scratch"/collection-sub*   # (kept ones from an earlier run are not this run's)
if cluster_rows; then
	mkcoll "$coll"
	if [ "$subn" -gt 0 ]; then
		rm -rf "$subcoll"
		mkdir -p "$subcoll/coverage"
		python3 - "$data/manifest.tsv" "$subn" >"$scratch/subset" <<-'EOF'
			import sys
			lines = open(sys.argv[1]).read().splitlines()
			n = int(sys.argv[2])
			rows = [l.split("\t") for l in lines[1:]]
			pick, seen = [], set()
			for r in rows:
			    if r[1] not in seen:
			        seen.add(r[1]); pick.append(r[0])
			step = max(1, len(rows) // n)
			for r in rows[::step]:
			    if len(pick) >= n: break
			    if r[0] not in pick: pick.append(r[0])
			print("\n".join(sorted(pick[:n])))
		EOF
		while read -r d; do
			cp -al "$data/$d" "$subcoll/coverage/$d" 2>/dev/null || cp -a "$data/$d" "$subcoll/coverage/$d"
		done <"$scratch/subset"
		awk -F'\t' 'NR == FNR {keep[$1] = 1; next} FNR == 1 || keep[$1]' "$scratch/subset" "$data/manifest.tsv" >"$subcoll/coverage/manifest.tsv"
		[ "$(wc -l <"$scratch/subset")" = "$subn" ] || die "subset: picked $(wc -l <"$scratch/subset") dirs, wanted $subn"
		echo "subset collection for peak RSS: $subn of $ndirs dirs, $(cut -f2 "$subcoll/coverage/manifest.tsv" | sed 1d | sort -u | wc -l) binaries ($subcoll)" >>"$results/sizes.txt"
	fi
fi

# ------------------------------------------------------------ correctness
fails=0
cfails=0   # compile check failures (--allow-compile-mismatch: timed anyway, exit 1)
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
	# 4. cluster compile: per-build totals of `livecov report` vs covdata textfmt over
	#    all dirs of each build (every build, compile-all included), on a fresh
	#    collection (and on the subset collection, compiled fresh too)
	ccheck=""
	if cluster_rows; then
		say "correctness: livecov cluster compile + report vs covdata textfmt, per build"
		compile_check() { # compile_check WHAT COLLECTION NDIRS
			local c="$2" tag="$1"
			rm -f "$c"/livecov.db*
			compile_expect "cluster compile ($tag)" "$c" "compiled $3 inputs \\(0 unchanged, 0 failed" || return 1
			run_ok "livecov report --collection ($tag)" sh -c 'exec "$0" report --collection "$1" --format json >"$2"' \
				"$LIVECOV" "$c" "$chk/report-$tag.json" || return 1
			python3 "$here/lib/compile_check.py" --report "$chk/report-$tag.json" --data "$c/coverage" \
				--covdata "$COVDATA" --out "$chk/compile-$tag" --expect-inputs "$3" --min 3 >"$chk/compile-$tag.txt" 2>&1 || {
				cat "$chk/compile-$tag.txt" >&2
				return 1
			}
			cat "$chk/compile-$tag.txt" >&2
			tail -1 "$chk/compile-$tag.txt" | sed "s/^/($tag, $3 dirs) /"
		}
		mkcoll "$chk/collection"
		if ccheck=$(compile_check all "$chk/collection" "$ndirs"); then :; else cfails=$((cfails + 1)); fi
		if [ "$subn" -gt 0 ]; then
			if c2=$(compile_check "sub$subn" "$subcoll" "$subn"); then ccheck="$ccheck; $c2"; else cfails=$((cfails + 1)); fi
			rm -f "$subcoll"/livecov.db*
		fi
		if [ "$cfails" -gt 0 ]; then
			msg="CLUSTER COMPILE CHECK FAILED: livecov report's per-build totals differ from covdata textfmt's (details above; files in $chk)"
			if [ "$allow_cmis" = 1 ]; then
				echo "$msg; timing anyway (--allow-compile-mismatch), exit status will be 1" >&2
			else
				fails=$((fails + cfails))
				echo "$msg" >&2
			fi
		fi
	fi
	if [ "$fails" -gt 0 ]; then
		die "CORRECTNESS CHECK FAILED: $fails difference(s) between livecov and covdata (details above; files in $chk). Nothing timed."
	fi
	echo "checks passed: percent over $ndirs dirs; textfmt -each ($ndirs files, $nsample compared) and per dir ($nsample); textfmt+func of ${bins//,/, }" | tee "$results/checks.txt" >&2
	if [ -n "$ccheck" ] && [ "$cfails" = 0 ]; then
		echo "checks passed: cluster compile: $ccheck" | tee -a "$results/checks.txt" >&2
	elif [ "$cfails" -gt 0 ]; then
		{
			echo "CLUSTER COMPILE CHECK FAILED (timed anyway: --allow-compile-mismatch): per-build totals of livecov report != covdata textfmt"
			cat "$chk"/compile-*.txt 2>/dev/null | grep -v '^  .* ok$' || true
		} | tee -a "$results/checks.txt" >&2
	fi
elif [ "$anchors_only" = 0 ]; then
	echo "CHECKS SKIPPED (--no-check): these figures are not valid results" | tee "$results/checks.txt" >&2
fi

# ------------------------------------------------------------ HTML rows: set-up and check
# livecov's HTML vs `go tool cover -html` on the same merged profiles. Untimed set-up:
# one merged profile per build (covdata textfmt) and its source dir (lib/html_prep.sh),
# a compiled collection for `cluster render`. Check: the per-file totals on livecov's
# pages (`livecov go html` of the XL build, every page of `cluster render`) must equal
# the profiles' (lib/html_check.py); the files shown with source are reported.
hs="$scratch/html"
[ -z "$html_dir" ] || hs="$(mkdir -p "$html_dir" && cd "$html_dir" && pwd)/$name-html"   # only this subdir is ever removed
html_labels="html-gotool-cover-compile-all html-livecov-go-compile-all html-gotool-cover-all-builds html-livecov-render-scratch html-livecov-render-nochange"
html_rows=0
for l in $html_labels; do
	case "$l" in html-livecov-*) lc || continue ;; esac
	if want "$l"; then html_rows=1; fi
done
rm -rf "$hs"   # (a kept one from an earlier run is not this run's)
if [ "$html_rows" = 1 ]; then
	say "HTML rows: merged profile per build (covdata textfmt), compiled collection (untimed)"
	mkdir -p "$hs"
	"$here/lib/html_prep.sh" "$data" "$hs" "$PA/cache/go-ops-src" || die "html_prep.sh failed"
	# the one-build rows: compile-all (the XL build), else the build with the largest profile
	hxbin=$(awk -F'\t' '$2 == "compile-all" {print $2}' "$hs/plan.tsv")
	[ -n "$hxbin" ] || hxbin=$(while IFS=$'\t' read -r _ b p _; do echo "$(wc -l <"$p") $b"; done <"$hs/plan.tsv" | sort -k1,1nr | awk 'NR == 1 {print $2}')
	IFS=$'\t' read -r hxhash _ hxprof hxsrc hxn < <(awk -F'\t' -v b="$hxbin" '$2 == b' "$hs/plan.tsv")
	hxdirs=$(bindirs "$hxbin")
	echo "html rows: $(wc -l <"$hs/plan.tsv") builds (merged profiles: $(cat "$hs"/prof/*.txt | wc -c) bytes); one-build rows: $hxbin ($hxn dirs, $(($(wc -l <"$hxprof") - 1)) profile lines, sources: $hxsrc); outputs in $hs ($(df -PT "$(dirname "$hs")" | awk 'NR == 2 {print $2}'))" >>"$results/sizes.txt"
	if lc; then
		mkcoll "$hs/collection"
		compile_expect "cluster compile (html rows)" "$hs/collection" "compiled $ndirs inputs \\(0 unchanged, 0 failed" ||
			die "cluster compile for the html rows failed"
	fi
	if lc && [ "$check" = 1 ]; then
		say "correctness: livecov go html and cluster render per-file totals vs the merged text profiles"
		hfail=0
		if "$LIVECOV" go html -i="$hxdirs" -o="$hs/check-one" -src="$hxsrc" >/dev/null 2>"$hs/check-one.stderr" &&
			python3 "$here/lib/html_check.py" page --profile "$hxprof" --page "$hs/check-one/index.html" --stderr "$hs/check-one.stderr" >"$hs/check-one.txt"; then
			echo "checks passed: html: livecov go html -i=<$hxn dirs of $hxbin> -src=$hxsrc: $(sed 's/^ok: //' "$hs/check-one.txt")" | tee -a "$results/checks.txt" >&2
			grep -m1 '^html: ' "$hs/check-one.stderr" | sed "s|^|html: livecov go html summary line ($hxbin): |" >>"$results/sizes.txt"
		else
			echo "FAILED: livecov go html -i=<dirs of $hxbin> -o=$hs/check-one -src=$hxsrc:" >&2
			cat "$hs/check-one.txt" "$hs/check-one.stderr" 2>/dev/null | head -30 | sed 's/^/    /' >&2
			hfail=1
		fi
		if "$LIVECOV" cluster render --collection "$hs/collection" --output-dir "$hs/check-site" --force >/dev/null 2>"$hs/check-site.stderr" &&
			python3 "$here/lib/html_check.py" site --site "$hs/check-site" --plan "$hs/plan.tsv" >"$hs/check-site.txt"; then
			echo "checks passed: html: livecov cluster render: $(sed 's/^ok: //' "$hs/check-site.txt")" | tee -a "$results/checks.txt" >&2
		else
			echo "FAILED: livecov cluster render --collection $hs/collection --output-dir $hs/check-site --force:" >&2
			cat "$hs/check-site.txt" "$hs/check-site.stderr" 2>/dev/null | head -30 | sed 's/^/    /' >&2
			hfail=1
		fi
		[ "$hfail" = 0 ] || die "HTML CHECK FAILED: livecov's pages differ from the merged text profiles (files in $hs). Nothing timed."
		rm -rf "$hs/check-one" "$hs/check-site"
	fi
fi

# ------------------------------------------------------------ timings
tm() { # tm LABEL RUNS [TIMER OPTIONS...] -- CMD...
	local label="$1" n="$2" opts=()
	shift 2
	while [ "$1" != "--" ]; do opts+=("$1"); shift; done
	shift
	want "$label" || return 0
	say "$label"
	local l0
	l0=$(cut -d' ' -f1-3 /proc/loadavg)
	"${timer[@]}" -n "$n" --timeout 3600 --strict --label "$label" --json "$results/$label.json" "${opts[@]}" -- "$@" |
		tee "$results/$label.txt" >&2 || die "$label: a run failed (non-zero exit); see $results/$label.txt"
	echo "load average (1/5/15 min) around $label: before $l0, after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/load.txt"
}
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

# the cluster pipeline: `livecov cluster compile` (from scratch, then with nothing
# changed) vs the older pipeline (textfmt per dir 2 at a time, then merge into
# SQLite) and covdata percent over all dirs (rows above)
if cluster_rows; then
	tm cluster-compile-scratch "$runs" --prep "rm -f '$coll'/livecov.db*" -- \
		"$LIVECOV" cluster compile --collection "$coll"
	if want cluster-compile-nochange; then
		# the store must hold every input, then nothing may be recompiled
		[ -f "$coll/livecov.db" ] || compile_expect "cluster compile (store for the no-change row)" "$coll" "compiled $ndirs inputs" ||
			die "cluster compile failed"
		compile_expect "cluster compile, nothing changed" "$coll" "compiled 0 inputs \\($ndirs unchanged, 0 failed, 0 removed\\).*\\(0 updated\\)" ||
			die "a second cluster compile did not find every input unchanged"
	fi
	tm cluster-compile-nochange "$runs" -- "$LIVECOV" cluster compile --collection "$coll"
	if [ "$subn" -gt 0 ]; then
		tm "cluster-compile-scratch-sub$subn" "$runs" --prep "rm -f '$subcoll'/livecov.db*" -- \
			"$LIVECOV" cluster compile --collection "$subcoll"
	fi
fi
older="$scratch/older"
rm -rf "$older"   # (a kept one from an earlier run is not this run's)
tm cluster-older-pipeline "$older_runs" --warmup 0 --prep "rm -rf '$older' && mkdir -p '$older'" -- \
	env -u COVDATA_CMD sh -c '"$0/lib/seed-textfmt.sh" "$1" "$2/txt" 2 && python3 "$0/lib/seed_merge.py" --data "$1" --txt "$2/txt" --sqlite "$2/seed.db" --out /dev/null' \
	"$here" "$data" "$older"

# HTML: one build (the XL one) with go tool cover -html (run where `go list` finds its
# packages) vs livecov go html; every build: go tool cover -html once per build vs
# livecov cluster render (from scratch, then with nothing changed). Outputs under $hs;
# --prep empties livecov's output dir (its renders are incremental).
if [ "$html_rows" = 1 ]; then
	tm html-gotool-cover-compile-all "$runs" -- \
		sh -c 'cd "$0" && exec go tool cover -html="$1" -o "$2"' "$hxsrc" "$hxprof" "$hs/gotool-one.html"
	lc && tm html-livecov-go-compile-all "$runs" --prep "$(fresh "$hs/livecov-one")" -- \
		"$LIVECOV" go html -i="$hxdirs" -o="$hs/livecov-one" -src="$hxsrc"
	tm html-gotool-cover-all-builds "$slow_runs" --prep "$(fresh "$hs/gotool-all")" -- \
		"$here/lib/html_cover_loop.sh" "$hs/plan.tsv" "$hs/gotool-all"
	lc && tm html-livecov-render-scratch "$runs" --prep "rm -rf '$hs/site'" -- \
		"$LIVECOV" cluster render --collection "$hs/collection" --output-dir "$hs/site" --force
	if lc && want html-livecov-render-nochange; then
		# a complete site, then a render that must find every build page unchanged
		nb=$(wc -l <"$hs/plan.tsv")
		if [ ! -f "$hs/site/index.html" ]; then
			"$LIVECOV" cluster render --collection "$hs/collection" --output-dir "$hs/site" >/dev/null 2>"$hs/render.stderr" ||
				die "livecov cluster render failed: $(head -5 "$hs/render.stderr")"
		fi
		"$LIVECOV" cluster render --collection "$hs/collection" --output-dir "$hs/site" >/dev/null 2>"$hs/render.stderr" ||
			die "livecov cluster render (nothing changed) failed: $(head -5 "$hs/render.stderr")"
		grep -Eq "render: 0 build pages written, $nb unchanged" "$hs/render.stderr" ||
			die "a second livecov cluster render did not find all $nb build pages unchanged: $(head -5 "$hs/render.stderr")"
		tm html-livecov-render-nochange "$runs" -- \
			"$LIVECOV" cluster render --collection "$hs/collection" --output-dir "$hs/site"
	fi
	# sizes of the last timed outputs (their totals are checked again below)
	python3 "$here/lib/html_summary.py" sizes "$results" --go-file "$hs/gotool-one.html" --go-site "$hs/livecov-one" \
		--cover-dir "$hs/gotool-all" --site "$hs/site" --page-build "$hxhash"
fi

# sizes: livecov's store (after a checkpoint) vs the older tool's text database
# (both from this run: $coll is made afresh when a compile row is wanted, $older above)
if [ -f "$coll/livecov.db" ] || [ -f "$older/seed.db" ]; then
	python3 - "$coll/livecov.db" "$older" "$ndirs" "$results/cluster-sizes.json" <<-'EOF' >>"$results/sizes.txt"
		import json, os, shutil, subprocess, sys
		db, older, ndirs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
		doc = {"dirs": ndirs}
		size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0
		if os.path.exists(db):
		    before = size(db) + size(db + "-wal")
		    if shutil.which("sqlite3"):
		        subprocess.run(["sqlite3", db, "PRAGMA wal_checkpoint(TRUNCATE)"], check=True, stdout=subprocess.DEVNULL)
		        how = "livecov.db after sqlite3 'PRAGMA wal_checkpoint(TRUNCATE)' (+ wal, %d bytes; db+wal before: %d)" % (size(db + "-wal"), before)
		    else:
		        how = "livecov.db + livecov.db-wal (no sqlite3 CLI: no checkpoint)"
		    doc["store_bytes"] = size(db) + size(db + "-wal")
		    doc["store_how"] = how
		    print("livecov store: %d bytes (%s)" % (doc["store_bytes"], how))
		seed = os.path.join(older, "seed.db")
		if os.path.exists(seed):
		    doc["older_db_bytes"] = size(seed)
		    txt = os.path.join(older, "txt")
		    doc["older_text_bytes"] = sum(size(os.path.join(txt, f)) for f in os.listdir(txt)) if os.path.isdir(txt) else 0
		    print("older tool's text SQLite (seed_merge.py --sqlite, last timed run): %d bytes (its text profiles: %d bytes)" % (
		        doc["older_db_bytes"], doc["older_text_bytes"]))
		json.dump(doc, open(out, "w"), indent=1)
	EOF
fi

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
if cluster_rows && [ "$check" = 1 ] && [ -f "$coll/livecov.db" ] && [ -f "$chk/report-all.json" ]; then
	# the store of the timed runs reports the same per-build totals as the checked one
	if "$LIVECOV" report --collection "$coll" --format json >"$scratch/report-timed.json" 2>"$scratch/report-timed.stderr" &&
		python3 - "$chk/report-all.json" "$scratch/report-timed.json" <<-'EOF'
			import json, sys
			f = lambda p: sorted((b["build"], b["statements"], b["covered_statements"]) for b in json.load(open(p))["builds"])
			sys.exit(f(sys.argv[1]) != f(sys.argv[2]))
		EOF
	then
		echo "cluster compile: the timed store's per-build totals equal the checked store's" | tee -a "$results/checks.txt" >&2
	else
		echo "MISMATCH after timing: livecov report of the timed store differs from the checked one ($scratch/report-timed.json)" >&2
		post=$((post + 1))
	fi
fi
if [ "$html_rows" = 1 ] && lc && [ "$check" = 1 ]; then  # the timed HTML outputs: totals once more
	if [ -f "$hs/livecov-one/index.html" ]; then
		if python3 "$here/lib/html_check.py" page --profile "$hxprof" --page "$hs/livecov-one/index.html" >"$hs/post-one.txt"; then
			echo "html: the timed livecov go html page's totals equal the profile's" | tee -a "$results/checks.txt" >&2
		else
			cat "$hs/post-one.txt" >&2; post=$((post + 1))
		fi
	fi
	if [ -f "$hs/site/index.html" ]; then
		if python3 "$here/lib/html_check.py" site --site "$hs/site" --plan "$hs/plan.tsv" >"$hs/post-site.txt"; then
			echo "html: the timed cluster render site's totals equal the profiles'" | tee -a "$results/checks.txt" >&2
		else
			cat "$hs/post-site.txt" >&2; post=$((post + 1))
		fi
	fi
fi
[ "$keep" = 1 ] || rm -rf "$chk" "$coll" "$subcoll" "$older" "$scratch"/report-timed.* "$scratch"/compile.stderr "$scratch"/subset "$scratch"/covdata-each "$scratch"/gotool-each "$scratch"/livecov-each "$scratch"/livecov-loop "$scratch"/bin-*.txt
[ "$keep" = 1 ] || [ "$post" -gt 0 ] || rm -rf "$hs"   # (kept when a check failed)

# ------------------------------------------------------------ summary
echo >&2
python3 "$here/lib/summary.py" "$results"
python3 "$here/lib/html_summary.py" table "$results"
echo "results: $results (summary.md, <row>.txt/.json)" >&2
[ "$post" = 0 ] || die "CORRECTNESS CHECK FAILED after timing: $post mismatch(es) (see $results/diff-*.txt)"
[ "$cfails" = 0 ] || die "CLUSTER COMPILE CHECK FAILED before timing (timed anyway: --allow-compile-mismatch); see checks.txt"
