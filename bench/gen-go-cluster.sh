#!/usr/bin/env bash
# (copy of ../shared/bench/gen-go-cluster.sh; lives in the project so bench/ is self-contained)
# gen-go-cluster.sh - generate a realistic "cluster" of Go second-generation
# coverage reports (GOCOVERDIR directories), one directory per
# namespace/pod/container, by building REAL Go programs from GOROOT with
# -cover and running them with real workloads.
#
# usage: gen-go-cluster.sh [options] OUTDIR N
#   OUTDIR        output directory (created; must be empty or a previous output)
#   N             number of report directories (50 = small, 500 = cluster-like)
# options:
#   --seed S      plan seed (default 1): which pods, which workloads
#   --jobs J      parallel runs (default: nproc)
#   --ops K       number of distinct "operator" binaries (default 12, max 13)
#   --no-xl       leave out the XL binary (cmd/compile, -coverpkg=all, ~219k blocks)
#   --rebuild     rebuild all binaries (default: reuse $PA/cache/go-bin)
#
# Environment: PA (default: livecov-bench in the temp dir) holds the toolchain venv, Go
# caches, built binaries and work files. Nothing outside $PA and OUTDIR is
# written. No network: GOPROXY=off, only GOROOT sources are built.
#
# Each report dir <namespace>-<pod>-<container>/ holds:
#   covmeta.<hash>                       (written by the binary)
#   covcounters.<hash>.<pid>.<time>      1-3 files (renamed: deterministic pid/time)
#   metadata.json                        namespace, pod, container, binary, image, ...
# OUTDIR/manifest.tsv and OUTDIR/binaries.tsv describe the whole set.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seed=1 jobs="$(nproc)" nops=12 xl=1 rebuild=0
while [ $# -gt 0 ]; do
	case "$1" in
	--seed) seed="$2"; shift 2 ;;
	--jobs) jobs="$2"; shift 2 ;;
	--ops) nops="$2"; shift 2 ;;
	--no-xl) xl=0; shift ;;
	--rebuild) rebuild=1; shift ;;
	-h|--help) sed -n '3,28p' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { sed -n '6,17p' "$0" >&2; exit 2; }
out="$1" n="$2"

. "$here/env.sh"
BIN="$PA/cache/go-bin"
SRC="$PA/cache/go-ops-src"
WORK="$PA/cache/go-work"
mkdir -p "$BIN" "$SRC" "$WORK"
gover="$(go env GOVERSION)"
t0=$(date +%s)

# ---------------------------------------------------------------- builds
# build NAME DIR TARGET MODE COVERPKG : cached by a stamp of the spec.
build() {
	local name="$1" dir="$2" target="$3" mode="$4" coverpkg="$5"
	local spec="$gover|$target|$mode|$coverpkg"
	if [ "$dir" != "-" ]; then spec="$spec|$(cat "$dir"/*.go "$dir"/go.mod | sha256sum | cut -c1-16)"; fi
	if [ "$rebuild" = 0 ] && [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.spec" 2>/dev/null)" = "$spec" ]; then
		return 0
	fi
	echo "building $name ($target, -covermode=$mode -coverpkg=$coverpkg)" >&2
	local b0=$(date +%s)
	if [ "$dir" = "-" ]; then
		(cd "$WORK" && go build -trimpath -cover -covermode="$mode" -coverpkg="$coverpkg" -o "$BIN/$name.tmp" "$target")
	else
		(cd "$dir" && go build -trimpath -cover -covermode="$mode" -coverpkg="$coverpkg" -o "$BIN/$name.tmp" "$target")
	fi
	mv "$BIN/$name.tmp" "$BIN/$name"
	echo "$spec" >"$BIN/$name.spec"
	echo "  built $name in $(( $(date +%s) - b0 ))s" >&2
}

build go-cli - cmd/go atomic 'cmd/go/...'
build go-all - cmd/go count all
build gofmt - cmd/gofmt set 'cmd/gofmt,go/...'
build nm - cmd/nm count 'cmd/nm,cmd/internal/objfile,cmd/internal/goobj,cmd/internal/archive,cmd/internal/bio,debug/...'
if [ "$xl" = 1 ]; then
	build compile-all - cmd/compile atomic all
fi

# "operator" variants: the std-only HTTP service in go-ops/ with a
# different subset of feature files each, built with -coverpkg=all.
ops_table() {
	cat <<'EOF'
kube-rbac-proxy proxy tls sign url
coredns url expvar pprof slog
router proxy gzip tls template url
console template json gzip multipart archive
oauth-server tls sign template json url
image-registry archive gzip sign json multipart tls
alertmanager json template slog expvar pprof
network-operator json slog url xml pprof
insights-operator archive gzip json csv tls
check-endpoints url tls slog json
cluster-monitoring-operator json template csv expvar slog
config-operator json goparse xml slog sign
ingress-operator archive csv expvar goparse gzip json multipart pprof proxy sign slog template tls url xml
EOF
}
ops=()
while read -r name feats; do
	[ "${#ops[@]}" -lt "$nops" ] || break
	d="$SRC/$name"
	mkdir -p "$d"
	rm -f "$d"/*.go
	cp "$here/go-ops/main.go" "$d/"
	for f in $feats; do cp "$here/go-ops/f_$f.go" "$d/"; done
	printf 'module example.com/ops/%s\n\ngo 1.23\n' "$name" >"$d/go.mod"
	build "op-$name" "$d" . atomic all
	ops+=("op-$name")
done < <(ops_table)

# ---------------------------------------------------------------- workload assets
# A tiny module for `go build/list/vet/mod` runs; importcfgs for compile runs.
mkdir -p "$WORK/hello"
[ -f "$WORK/hello/go.mod" ] || printf 'module example.com/hello\n\ngo 1.23\n' >"$WORK/hello/go.mod"
cat >"$WORK/hello/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println(strings.ToUpper("hello"), len(os.Args))
}
EOF
if [ "$xl" = 1 ]; then
	mkdir -p "$WORK/compile"
	for pkg in container/list encoding/csv encoding/json text/tabwriter go/printer net/url \
		regexp/syntax regexp flag text/template/parse text/template html/template archive/tar \
		image/png compress/flate encoding/xml go/ast go/parser mime/multipart log/slog; do
		f="$WORK/compile/$(echo "$pkg" | tr / _)"
		[ -s "$f.files" ] && continue
		go list -export -deps -f '{{if .Export}}packagefile {{.ImportPath}}={{.Export}}{{end}}' "$pkg" |
			{ grep -v "^packagefile $pkg=" || true; } >"$f.importcfg"
		go list -f '{{range .GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}' "$pkg" >"$f.files"
	done
fi
# Go object archives for nm runs.
if [ ! -s "$WORK/nm-objects" ]; then
	go list -export -f '{{.Export}}' fmt net/http encoding/json >"$WORK/nm-objects"
fi
tb=$(date +%s)
echo "builds/assets ready in $((tb - t0))s" >&2

# ---------------------------------------------------------------- plan + run
bins="go-cli go-all gofmt nm ${ops[*]}"
[ "$xl" = 1 ] && bins="$bins compile-all"
python3 "$here/lib/gocluster.py" --out "$out" --n "$n" --seed "$seed" --jobs "$jobs" \
	--bin-dir "$BIN" --work "$WORK" --binaries "$bins" --go-version "$gover"
echo "generated $n report dirs in $(( $(date +%s) - tb ))s (total $(( $(date +%s) - t0 ))s)" >&2
