#!/usr/bin/env bash
# Builds a real kube-apiserver (v1.34.0) and etcd (v3.6.5) from the Go module proxy into a
# cache directory outside the checkout, once, and prints the directory holding them. The
# Kubernetes tests (crates/livecov/tests/kube.rs) run them through .ci/k8s/start.sh.
#
#   export LIVECOV_K8S_BIN="$(bash .ci/install-k8s.sh)"
#
# Idempotent: a second run builds nothing when the binaries are there at the right
# version. Prints only errors (stderr) and finally the bin directory (stdout).
#
# Cold Go caches: about 8 min on 2 cores (peak 1.8 GB RAM, 3.8 GB of caches); warm: under
# a minute. Needs go >= 1.24, python3.
#
# Why not `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.34.0`: the module has
# replace directives (./staging/src/k8s.io/...), which go install refuses. So: download
# the module, drop go.work, vendor/ and the replace block, pin the k8s.io/* staging
# modules to their published v0.34.0, then go build.
set -euo pipefail
K="${LIVECOV_K8S_DIR:-/var/tmp/livecov-k8s}"
BIN="$K/bin"
KVER="${LIVECOV_K8S_VERSION:-v1.34.0}"
SVER="v0.${KVER#v1.}" # v1.34.0 -> v0.34.0
EVER="${LIVECOV_ETCD_VERSION:-v3.6.5}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
# scripts/test sets GOPROXY=off for the fixture builds; this build needs the proxy.
[ "${GOPROXY:-}" = off ] && unset GOPROXY
mkdir -p "$BIN"
NICE="nice -n ${NICE_LEVEL:-10}"
log="$K/install.log"
: >"$log"
fail() {
	echo "install-k8s.sh: $1 failed; last lines of $log:" >&2
	tail -30 "$log" >&2
	exit 1
}

if [ ! -x "$BIN/kube-apiserver" ] ||
	! "$BIN/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes $KVER"; then
	go mod download -json "k8s.io/kubernetes@$KVER" >>"$log" 2>&1 || fail "go mod download k8s.io/kubernetes@$KVER"
	SRC="$K/src-$KVER"
	rm -rf "$SRC"
	cp -r "$(go env GOMODCACHE)/k8s.io/kubernetes@$KVER" "$SRC"
	chmod -R u+w "$SRC"
	(
		cd "$SRC"
		rm -rf go.work go.work.sum vendor # staging/ and vendor/ are not in the module zip
		python3 - "$SVER" <<'PY'
import re, sys
s = open('go.mod').read()
s = re.sub(r'\nreplace \(.*?\n\)\n', '\n', s, flags=re.S)
s = re.sub(r'^(\tk8s\.io/[a-z-]+) v0\.0\.0$', r'\1 ' + sys.argv[1], s, flags=re.M)
open('go.mod', 'w').write(s)
PY
		minor=$(echo "$KVER" | cut -d. -f2)
		LDF="-s -w -X k8s.io/component-base/version.gitVersion=$KVER"
		LDF="$LDF -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
		LDF="$LDF -X k8s.io/component-base/version.gitTreeState=clean"
		$NICE go build -trimpath -ldflags "$LDF" -o "$BIN/kube-apiserver.tmp" ./cmd/kube-apiserver
	) >>"$log" 2>&1 || fail "building kube-apiserver $KVER"
	mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
	rm -rf "$SRC"
fi

if [ ! -x "$BIN/etcd" ] || ! "$BIN/etcd" --version 2>/dev/null | grep -q "etcd Version: ${EVER#v}"; then
	W="$K/etcdwrap"
	rm -rf "$W"
	mkdir -p "$W"
	(
		cd "$W"
		printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
		go mod init local/etcdwrap
		go get "go.etcd.io/etcd/server/v3@$EVER"
		go mod tidy
		$NICE go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" .
	) >>"$log" 2>&1 || fail "building etcd $EVER"
	mv "$BIN/etcd.tmp" "$BIN/etcd"
	rm -rf "$W"
fi

"$BIN/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes $KVER" ||
	{ echo "install-k8s.sh: $BIN/kube-apiserver does not run" >&2; exit 1; }
"$BIN/etcd" --version >/dev/null 2>&1 ||
	{ echo "install-k8s.sh: $BIN/etcd does not run" >&2; exit 1; }
echo "$BIN"
