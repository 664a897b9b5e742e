#!/usr/bin/env python3
"""Summary (markdown) of a bench/live-collect.sh results dir: the collection round
(older way vs livecov, medians and the pairwise ratio) and the agent cost, with the
targets of issue 9.

usage: live_summary.py RESULTS_DIR
"""
import json
import os
import sys

TARGET_RATIO = 20.0
TARGET_CPU_MS = 10.0


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def main():
    res = sys.argv[1]
    out = ["# Live collection (issue 9): %s" % os.path.basename(res), ""]
    out += ["```", read(os.path.join(res, "machine.txt")).strip(), "```", "", "Load average (1, 5, 15 min):", "```",
            read(os.path.join(res, "load.txt")).strip(), "```", ""]
    cj = os.path.join(res, "collect.json")
    if os.path.exists(cj):
        with open(cj) as f:
            c = json.load(f)
        a, b = c["commands"]["A"], c["commands"]["B"]
        ratio = a["wall"]["median"] / b["wall"]["median"]
        pair = c["ratio_A_over_B"]["median"]
        cpu_ratio = a["cpu"]["median"] / b["cpu"]["median"] if b["cpu"]["median"] else float("inf")
        n = len(a["runs"])
        out += ["## One collection round over the live processes (%s)" % c["label"], "",
                "| | wall median (min-max) | cpu median | peak RSS |", "|---|---:|---:|---:|",
                "| older way: per target GET, base64 decode, `go tool covdata textfmt` | %.2f s (%.2f-%.2f) | %.2f s | %.0f MiB |" % (
                    a["wall"]["median"], a["wall"]["min"], a["wall"]["max"], a["cpu"]["median"], a["peak_mib"]["median"]),
                "| `livecov collect --collection C <targets>` (into the store) | %.3f s (%.3f-%.3f) | %.3f s | %.0f MiB |" % (
                    b["wall"]["median"], b["wall"]["min"], b["wall"]["max"], b["cpu"]["median"], b["peak_mib"]["median"]),
                ]
        fj = os.path.join(res, "floor.json")
        if os.path.exists(fj):
            with open(fj) as f:
                fl = json.load(f)["commands"]["A"]
            out.append("| floor: the same full snapshots fetched by curl, 16 at a time, thrown away | %.3f s (%.3f-%.3f) | %.3f s | |" % (
                fl["wall"]["median"], fl["wall"]["min"], fl["wall"]["max"], fl["cpu"]["median"]))
        out += ["",
                "| comparison | value | target | verdict |", "|---|---:|---:|---|",
                "| ratio of wall medians | %.1f× | >= %.0f× | %s |" % (ratio, TARGET_RATIO, "met" if ratio >= TARGET_RATIO else "MISSED"),
                "| median of pairwise wall ratios (%d interleaved pairs) | %.1f× | >= %.0f× | %s |" % (
                    n, pair, TARGET_RATIO, "met" if pair >= TARGET_RATIO else "MISSED"),
                "| ratio of cpu medians (the collector's process tree; not the agents') | %.1f× | | |" % cpu_ratio, ""]
        chk = read(os.path.join(res, "checks.txt")).splitlines()
        chk2 = read(os.path.join(res, "checks-after.txt")).splitlines()
        out += ["Correctness: before timing: %s" % (chk[0] if chk else "not run"),
                "After timing (the last timed livecov round): %s" % (chk2[0] if chk2 else "not run"), ""]
    aj = os.path.join(res, "agent.json")
    if os.path.exists(aj):
        with open(aj) as f:
            g = json.load(f)
        out += ["## Agent cost (one process)", "",
                "| snapshot | CPU per snapshot (idle subtracted) | raw | wall per snapshot | payload | target | verdict |",
                "|---|---:|---:|---:|---:|---:|---|"]
        for kind, label in (("full", "`GET /coverage` (meta + counters)"), ("nometa", "`GET /coverage?nometa=1`")):
            k = g["cpu"][kind]
            out.append("| %s | %.2f ms | %.2f ms | %.1f ms | %.0f KiB | < %.0f ms | %s |" % (
                label, k["per_snapshot_ms"], k["raw_per_snapshot_ms"], k["wall_per_snapshot_ms"], k["payload_bytes"] / 1024,
                TARGET_CPU_MS, "met" if k["per_snapshot_ms"] < TARGET_CPU_MS else "MISSED"))
        out += ["", "CPU from /proc/<pid>/stat utime+stime (tick %.0f ms) over %d snapshots of each kind." % (
            1000 * g["cpu"]["tick_s"], g["cpu"]["full"]["snapshots"]), ""]
        lat = g["latency"]
        out += ["| request loop (`GET /validate?...`, keep-alive) | requests | p50 | p90 | p99 | p99.9 | max | mean |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for arm in ("without", "with"):
            s = lat[arm]
            out.append("| %s collection every 1 s | %d | %.0f µs | %.0f µs | %.0f µs | %.0f µs | %.0f µs | %.0f µs |" % (
                arm, s["requests"], s["p50_us"], s["p90_us"], s["p99_us"], s["p999_us"], s["max_us"], s["mean_us"]))
        w, x = lat["without"], lat["with"]
        out += ["", "with/without: p50 %.2f×, p99 %.2f×, mean %.2f× (blocks in order %s; collector `%s`, %s rounds in all, "
                "its exit status %s; %.1f s of requests with it running)" % (
                    x["p50_us"] / w["p50_us"], x["p99_us"] / w["p99_us"], x["mean_us"] / w["mean_us"],
                    ",".join("on" if a == "with" else "off" for a in lat["order"]), lat["collector"].replace("exec ", ""), lat["collector_rounds"],
                    lat["collector_exit"], x["wall_s"]), ""]
        if lat.get("blocks"):
            out += ["Per block (the spread of the arm without collection is the noise of the machine):", "",
                    "| block | arm | p50 | p99 |", "|---:|---|---:|---:|"]
            for i, b in enumerate(lat["blocks"], 1):
                out.append("| %d | %s | %.0f µs | %.0f µs |" % (i, b["arm"], b["p50_us"], b["p99_us"]))
            out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
