#!/usr/bin/env bash
# html_prep.sh - untimed set-up of the HTML rows: one merged text profile per build
# (`covdata textfmt -i=<all dirs of that build>`) and where its sources are.
#
# usage: html_prep.sh DATA OUT OPS_SRC
#   DATA     a gen-go-cluster.sh output (manifest.tsv: dir, binary, meta hash, ...)
#   OUT      writes OUT/prof/<binary>.txt and OUT/plan.tsv, one line per build:
#            meta hash, binary, profile, source dir, number of report dirs (tab-separated)
#   OPS_SRC  the generator's operator sources ($PA/cache/go-ops-src)
# Needs $COVDATA and $GOROOT (env.sh).
#
# Source dir = where `go list` resolves every package of the profile, i.e. where
# `go tool cover -html` must run: GOROOT/src/cmd (module "cmd", std resolves there too)
# for the builds of GOROOT commands; OPS_SRC/<name> (module example.com/ops/<name>, as
# gen-go-cluster.sh built it) for a profile with example.com/ops/<name>/ files.
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
data="$1" out="$2" ops="$3"
: "${COVDATA:?run under env.sh}" "${GOROOT:?run under env.sh}"
rm -rf "$out/prof" "$out/plan.tsv"
mkdir -p "$out/prof"
awk -F'\t' 'NR > 1 {print $3 "\t" $2}' "$data/manifest.tsv" | LC_ALL=C sort -u >"$out/builds"
if [ "$(cut -f1 "$out/builds" | uniq -d)" != "" ] || [ "$(cut -f2 "$out/builds" | sort | uniq -d)" != "" ]; then
	echo "html_prep.sh: manifest.tsv does not pair binaries and meta hashes one to one" >&2
	exit 1
fi
while IFS=$'\t' read -r hash bin; do
	dirs=$(awk -F'\t' -v h="$hash" -v d="$data" 'NR > 1 && $3 == h {print d "/" $1}' "$data/manifest.tsv" | LC_ALL=C sort)
	prof="$out/prof/$bin.txt"
	"$COVDATA" textfmt -i="$(paste -sd, - <<<"$dirs")" -o="$prof"
	mod=$(sed -n '2,$s|^example\.com/ops/\([^/]*\)/.*|\1|p' "$prof" | sort -u)
	case "$(wc -w <<<"$mod")" in
	0) src="$GOROOT/src/cmd" ;;
	1) src="$ops/$mod"
		grep -qx "module example.com/ops/$mod" "$src/go.mod" 2>/dev/null ||
			{ echo "html_prep.sh: $bin: no module example.com/ops/$mod in $src (regenerate the binaries)" >&2; exit 1; } ;;
	*) echo "html_prep.sh: $bin: files of several modules ($mod)" >&2; exit 1 ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\n' "$hash" "$bin" "$prof" "$src" "$(wc -l <<<"$dirs")" >>"$out/plan.tsv"
done <"$out/builds"
rm -f "$out/builds"
