#!/usr/bin/env bash
# Starts etcd and a real kube-apiserver inside a network namespace of their own, for the
# Kubernetes tests (crates/livecov/tests/kube.rs starts and stops it itself; run by hand:
#   RUN=/tmp/k NETNS=k8stest bash .ci/k8s/start.sh && ip netns exec k8stest ...
#   RUN=/tmp/k NETNS=k8stest bash .ci/k8s/stop.sh).
# Needs root (ip netns), openssl, and the binaries of .ci/install-k8s.sh in BIN.
#
# The namespace has only lo, no route out, and POD_CIDR made local on lo: a pod's
# status.podIP can be any 10.244.0.x and a server bound to it inside the namespace is
# reached through the API server's pod proxy. (The API server refuses loopback and
# link-local pod IPs.) No controller manager, scheduler or kubelet: tests create pods
# directly and PATCH their status; the ServiceAccount admission plugin is off for that.
#
# Authentication: static tokens. ADMIN_TOKEN is in group system:masters; the lines of
# the file TOKENS_EXTRA (token,user,uid[,"group,..."]) are added as they are, for users
# whose RBAC the tests grant. $RUN/kubeconfig is the admin's.
#
# Prints errors only, then "apiserver ready after N s".
set -euo pipefail
RUN="${RUN:?RUN: the directory for certificates, data and logs}"
BIN="${BIN:-${LIVECOV_K8S_BIN:-/var/tmp/livecov-k8s/bin}}"
NETNS="${NETNS:-k8stest}"
POD_CIDR="${POD_CIDR:-10.244.0.0/24}"
APIPORT="${APIPORT:-6443}"
ADMIN_TOKEN="${ADMIN_TOKEN:-test-admin-token}"

for b in kube-apiserver etcd; do
	[ -x "$BIN/$b" ] || { echo "start.sh: $BIN/$b is missing; run .ci/install-k8s.sh" >&2; exit 1; }
done
mkdir -p "$RUN/pki" "$RUN/data"

# --- network namespace: only lo, no route out; every POD_CIDR address is local
ip netns del "$NETNS" 2>/dev/null || true
ip netns add "$NETNS"
NS="ip netns exec $NETNS"
$NS ip link set lo up
$NS ip addr add "$POD_CIDR" dev lo
$NS ip route get 10.244.0.5 | grep -q 'dev lo' || { echo "start.sh: pod CIDR not local in $NETNS" >&2; exit 1; }
if $NS ip route get 8.8.8.8 >/dev/null 2>&1; then echo "start.sh: $NETNS has a route out; refusing" >&2; exit 1; fi

# --- PKI
(
	cd "$RUN/pki"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca
	openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
	printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,IP:10.244.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' >san.ext
	openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out apiserver.crt
	openssl genrsa -out sa.key 2048
	openssl rsa -in sa.key -pubout -out sa.pub
) >"$RUN/pki.log" 2>&1 || { echo "start.sh: openssl failed:" >&2; cat "$RUN/pki.log" >&2; exit 1; }
echo "$ADMIN_TOKEN,admin,admin,\"system:masters\"" >"$RUN/tokens.csv"
[ -z "${TOKENS_EXTRA:-}" ] || cat "$TOKENS_EXTRA" >>"$RUN/tokens.csv"

# --- etcd
$NS nohup "$BIN/etcd" --data-dir "$RUN/data/etcd" --listen-client-urls http://127.0.0.1:2379 \
	--advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
	--quota-backend-bytes=2147483648 --unsafe-no-fsync >"$RUN/storage.log" 2>&1 &
echo $! >"$RUN/storage.pid"
for _ in $(seq 1 100); do $NS bash -c '</dev/tcp/127.0.0.1/2379' 2>/dev/null && break; sleep 0.2; done

# --- kube-apiserver
T0=$(date +%s%N)
$NS nohup "$BIN/kube-apiserver" \
	--etcd-servers=http://127.0.0.1:2379 \
	--bind-address=127.0.0.1 --advertise-address=10.244.0.1 --secure-port="$APIPORT" \
	--tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
	--client-ca-file="$RUN/pki/ca.crt" \
	--token-auth-file="$RUN/tokens.csv" \
	--authorization-mode=RBAC \
	--service-account-key-file="$RUN/pki/sa.pub" \
	--service-account-signing-key-file="$RUN/pki/sa.key" \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-cluster-ip-range=10.0.0.0/24 \
	--disable-admission-plugins=ServiceAccount \
	--endpoint-reconciler-type=none \
	--profiling=false --v=1 \
	>"$RUN/apiserver.log" 2>&1 &
echo $! >"$RUN/apiserver.pid"

cat >"$RUN/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$APIPORT
    certificate-authority: $RUN/pki/ca.crt
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC

# /readyz includes the RBAC bootstrap roles the tests bind to.
for _ in $(seq 1 600); do
	if $NS curl -fsS --cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
		"https://127.0.0.1:$APIPORT/readyz" >/dev/null 2>&1; then
		echo "apiserver ready after $((($(date +%s%N) - T0) / 1000000)) ms"
		exit 0
	fi
	kill -0 "$(cat "$RUN/apiserver.pid")" 2>/dev/null ||
		{ echo "start.sh: kube-apiserver died; $RUN/apiserver.log:" >&2; tail -30 "$RUN/apiserver.log" >&2; exit 1; }
	sleep 0.25
done
echo "start.sh: kube-apiserver not ready in 150 s; $RUN/apiserver.log:" >&2
tail -30 "$RUN/apiserver.log" >&2
exit 1
