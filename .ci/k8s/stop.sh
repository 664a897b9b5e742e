#!/usr/bin/env bash
# Stops what .ci/k8s/start.sh started (by the pids it recorded in RUN) and deletes its
# network namespace. Safe to run twice.
RUN="${RUN:?RUN: the directory start.sh was given}"
NETNS="${NETNS:-k8stest}"
for p in apiserver storage; do [ -f "$RUN/$p.pid" ] && kill "$(cat "$RUN/$p.pid")" 2>/dev/null; done
for _ in 1 2 3 4 5 6 7 8 9 10; do
	alive=0
	for p in apiserver storage; do
		[ -f "$RUN/$p.pid" ] && kill -0 "$(cat "$RUN/$p.pid")" 2>/dev/null && alive=1
	done
	[ "$alive" = 0 ] && break
	sleep 0.2
done
for p in apiserver storage; do [ -f "$RUN/$p.pid" ] && kill -9 "$(cat "$RUN/$p.pid")" 2>/dev/null; done
ip netns del "$NETNS" 2>/dev/null
true
