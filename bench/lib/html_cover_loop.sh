#!/usr/bin/env bash
# html_cover_loop.sh - the anchor of the whole-collection HTML row: `go tool cover -html`
# once per build, sequential, each run in the build's source dir (go tool cover finds
# the sources with `go list`, which must resolve every package of the profile there).
#
# usage: html_cover_loop.sh PLAN OUTDIR
#   PLAN    html_prep.sh's plan.tsv (meta hash, binary, profile, source dir, ...)
#   OUTDIR  writes OUTDIR/<binary>.html
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
plan="$1" out="$2"
while IFS=$'\t' read -r _ bin prof src _; do
	(cd "$src" && go tool cover -html="$prof" -o "$out/$bin.html")
done <"$plan"
