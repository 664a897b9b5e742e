#!/usr/bin/env python3
"""Agent cost of bench/live-collect.sh (issue 9), on one live process.

  agent_cost.py --pid PID --coverage-port P --service-port S [--snapshots N]
                [--requests Q] [--blocks K] --collector 'CMD' --json OUT

1. CPU per snapshot: the process's utime+stime from /proc/PID/stat (clock ticks, all
   threads) before and after N snapshots `GET /coverage` (with the meta), then N
   `GET /coverage?nometa=1`, each on a new connection (as a collector round makes), body
   read in full; twice, interleaved with idle periods of the same length whose CPU (the
   Go runtime's background work) is subtracted. Per snapshot = (block - idle) / N.
2. Request latency: a closed loop of Q requests per arm (one keep-alive connection,
   `GET /validate?...`, the url feature: regexp, url and netip parsing), in 2K blocks
   alternating without / with collection (ABBA order), where "with" means the collector
   command (`livecov collect --watch 1s` on this process) runs; between its blocks it is
   stopped with SIGSTOP and resumed with SIGCONT, so its 1 s cadence is kept. p50, p90,
   p99, p99.9, max and mean per arm, and the collector's rounds during its blocks.
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # fields 14 and 15 (utime, stime) are rest[11], rest[12] (rest starts at field 3)
    return (int(rest[11]) + int(rest[12])) / TICK


def snapshot(port, nometa):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/coverage?nometa=1" if nometa else "/coverage")
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("GET /coverage: %d %s" % (r.status, body[:200]))
    doc = json.loads(body)
    if not doc.get("counters_data") or bool(doc.get("meta_data")) == nometa:
        raise RuntimeError("GET /coverage%s: unexpected payload keys" % ("?nometa=1" if nometa else ""))
    return len(body)


def cpu_per_snapshot(pid, port, n):
    res = {"full": [], "nometa": [], "idle_rate": [], "bytes": {}}
    for _ in range(2):
        for kind in ("full", "nometa"):
            c0, t0 = cpu_s(pid), time.monotonic()
            for _ in range(n):
                res["bytes"][kind] = snapshot(port, kind == "nometa")
            c1, t1 = cpu_s(pid), time.monotonic()
            # idle period of the same length right after
            time.sleep(t1 - t0)
            c2, t2 = cpu_s(pid), time.monotonic()
            rate = (c2 - c1) / (t2 - t1)
            res["idle_rate"].append(rate)
            res[kind].append(dict(cpu=c1 - c0, wall=t1 - t0, idle_cpu=rate * (t1 - t0),
                                  per_snapshot_ms=1000 * max(0.0, (c1 - c0) - rate * (t1 - t0)) / n,
                                  raw_per_snapshot_ms=1000 * (c1 - c0) / n))
    out = {}
    for kind in ("full", "nometa"):
        blocks = res[kind]
        cpu = sum(b["cpu"] for b in blocks)
        idle = sum(b["idle_cpu"] for b in blocks)
        out[kind] = dict(snapshots=n * len(blocks), cpu_s=cpu, idle_cpu_s=idle,
                         per_snapshot_ms=1000 * max(0.0, cpu - idle) / (n * len(blocks)),
                         raw_per_snapshot_ms=1000 * cpu / (n * len(blocks)),
                         wall_per_snapshot_ms=1000 * sum(b["wall"] for b in blocks) / (n * len(blocks)),
                         payload_bytes=res["bytes"][kind], blocks=blocks)
    out["tick_s"] = 1.0 / TICK
    return out


PATH = "/validate?name=my-app&url=https%3A%2F%2Fuser%40example.com%3A8443%2Fa%2F..%2Fb%3Fx%3D1&ip=10.0.0.1"


def loop(conn, q):
    lat = []
    for _ in range(q):
        t = time.perf_counter_ns()
        conn.request("GET", PATH)
        r = conn.getresponse()
        body = r.read()
        lat.append(time.perf_counter_ns() - t)
        if r.status != 200 or not body.startswith(b"ip "):
            raise RuntimeError("GET %s: %d %r" % (PATH, r.status, body[:100]))
    return lat


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def arm_stats(lat):
    us = [x / 1000.0 for x in lat]
    return dict(requests=len(us), p50_us=pct(us, 50), p90_us=pct(us, 90), p99_us=pct(us, 99),
                p999_us=pct(us, 99.9), max_us=max(us), mean_us=statistics.mean(us))


def collector_rounds(path):
    """The round count of the collector's closing line ("collected N snapshots from T
    targets in R rounds"), or None."""
    try:
        with open(path) as f:
            m = re.findall(r"collected \d+ snapshots from \d+ targets in (\d+) rounds", f.read())
    except OSError:
        return None
    return int(m[-1]) if m else None


def latency(port, q, k, collector_cmd, log):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    loop(conn, 500)  # warm the connection and the handler
    logf = open(log, "w")
    coll = subprocess.Popen(collector_cmd, shell=True, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True)
    time.sleep(2.5)  # its first rounds (the meta, the store) are done before any block
    os.killpg(coll.pid, signal.SIGSTOP)
    arms = {"without": [], "with": []}
    order, per_block = [], []
    per = max(1, q // k)
    wall = {"without": 0.0, "with": 0.0}
    try:
        for i in range(k):
            for arm in (("without", "with") if i % 2 == 0 else ("with", "without")):
                if arm == "with":
                    os.killpg(coll.pid, signal.SIGCONT)
                t0 = time.monotonic()
                got = loop(conn, per)
                wall[arm] += time.monotonic() - t0
                arms[arm] += got
                per_block.append(dict(arm=arm, **arm_stats(got)))
                if arm == "with":
                    os.killpg(coll.pid, signal.SIGSTOP)
                order.append(arm)
    finally:
        os.killpg(coll.pid, signal.SIGCONT)
        os.killpg(coll.pid, signal.SIGINT)
        try:
            coll.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(coll.pid, signal.SIGKILL)
            coll.wait()
        logf.close()
    conn.close()
    out = {arm: arm_stats(v) for arm, v in arms.items()}
    for arm in arms:
        out[arm]["wall_s"] = wall[arm]
    out["order"] = order
    out["blocks"] = per_block
    out["collector"] = collector_cmd
    out["collector_exit"] = coll.returncode
    # rounds of the whole collector run: its start-up (before the first block) included
    out["collector_rounds"] = collector_rounds(log)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--coverage-port", type=int, required=True)
    ap.add_argument("--service-port", type=int, required=True)
    ap.add_argument("--snapshots", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--collector", required=True)
    ap.add_argument("--collector-log", required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    doc = dict(pid=a.pid)
    doc["cpu"] = cpu_per_snapshot(a.pid, a.coverage_port, a.snapshots)
    for kind in ("full", "nometa"):
        c = doc["cpu"][kind]
        print("agent CPU per snapshot (%s): %.2f ms (raw %.2f ms, idle subtracted %.3f s over %d snapshots; %d bytes; "
              "%.1f ms wall each)" % (kind, c["per_snapshot_ms"], c["raw_per_snapshot_ms"], c["idle_cpu_s"],
                                       c["snapshots"], c["payload_bytes"], c["wall_per_snapshot_ms"]))
    doc["latency"] = latency(a.service_port, a.requests, a.blocks, a.collector, a.collector_log)
    for arm in ("without", "with"):
        s = doc["latency"][arm]
        print("requests %-7s collection: p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us  mean %.0f us  (%d requests, %.1f s)" % (
            arm, s["p50_us"], s["p99_us"], s["p999_us"], s["max_us"], s["mean_us"], s["requests"], s["wall_s"]))
    for b in doc["latency"]["blocks"]:
        print("  block %-7s p50 %.0f us  p99 %.0f us  (%d requests)" % (b["arm"], b["p50_us"], b["p99_us"], b["requests"]))
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
