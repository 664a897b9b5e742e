#!/usr/bin/env python3
"""Correctness checks of bench/live-collect.sh (issue 9): per process, the statements
and covered statements of livecov's `report --format json` against `go tool covdata
textfmt` outputs, the agent's own file (livecov_agent.go) left out on both sides (compile
leaves it out by name).

  live_check.py --report R.json --collection C --older O --names N.tsv [--go GO] [--out F]

N.tsv: one line per process, `<index>\t<binary name>\t<coverage port>`; the older way's
outputs are O/NNN.txt (NNN: the index, 3 digits, (lib/older_collect.py), livecov's owners are named after the
binary (the X-Art-Coverage-Binary header; each process runs under its own hard link).

Checks, each per process:
  same-bytes  the report's statements and covered statements == covdata textfmt over the
              snapshot files livecov itself wrote (C/coverage/<series>/): the store against
              the Go toolchain on the same bytes. Exact.
  vs-older    statements and blocks == the older way's; covered statements: the two
              snapshots are taken moments apart (the older way first), and -coverpkg=all
              instruments the Go runtime (scheduler, GC) and packages whose paths depend
              on GC timing (sync.Pool hits in encoding/json, ...), which keep running
              between any two snapshots. So a block may only go from uncovered to covered
              (counters never go down), and those blocks must stay under 1% of the
              statements; they are counted per package group (runtime, other) and the
              other packages are listed.
Exit status 1 on any mismatch (all are printed).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

AGENT = "livecov_agent.go"
VOLATILE = ("runtime/", "internal/runtime/")


def blocks(path):
    """{block: (numstmt, count)} of a textfmt file, the agent's file left out."""
    out = {}
    with open(path) as f:
        first = f.readline()
        if not first.startswith("mode:"):
            raise ValueError("%s: line 1: expected 'mode: ...', got %r" % (path, first[:80]))
        for ln, line in enumerate(f, 2):
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                pos, ns, cnt = line.rsplit(" ", 2)
                ns, cnt = int(ns), int(cnt)
            except ValueError:
                raise ValueError("%s: line %d: expected 'file:l.c,l.c numstmt count', got %r" % (path, ln, line[:120]))
            if os.path.basename(pos.split(":", 1)[0]) == AGENT:
                continue
            if pos in out:  # the same block twice (textfmt of one snapshot should not): max-merge
                out[pos] = (ns, max(cnt, out[pos][1]))
            else:
                out[pos] = (ns, cnt)
    return out


def totals(b):
    return sum(n for n, _ in b.values()), sum(n for n, c in b.values() if c > 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--collection", required=True)
    ap.add_argument("--older", required=True)
    ap.add_argument("--names", required=True)
    ap.add_argument("--go", default="go")
    ap.add_argument("--out")
    a = ap.parse_args()
    with open(a.report) as f:
        rep = json.load(f)
    owners = {}
    for o in rep["owners"]:
        owners.setdefault(o["binary"], []).append(o)
    procs = []
    with open(a.names) as f:
        for line in f:
            i, name, port = line.split()
            procs.append((i, name, port))
    # livecov's series dirs, by the binary recorded in their info.json
    series = {}
    cov = os.path.join(a.collection, "coverage")
    for d in sorted(os.listdir(cov)):
        info = os.path.join(cov, d, "info.json")
        if os.path.isfile(info):
            with open(info) as f:
                series.setdefault(os.path.basename(json.load(f)["binary"]), []).append(os.path.join(cov, d))
    bad, lines = [], []
    drift, drift_pkgs = [], {}
    tmp = tempfile.mkdtemp(prefix="live-check.")
    for i, name, port in procs:
        own = owners.get(name, [])
        ser = series.get(name, [])
        if len(own) != 1 or len(ser) != 1:
            bad.append("%s: %d owners in the report, %d series dirs in the collection (want 1 and 1)" % (name, len(own), len(ser)))
            continue
        o = own[0]
        txt = os.path.join(tmp, name + ".txt")
        subprocess.run([a.go, "tool", "covdata", "textfmt", "-i=" + ser[0], "-o=" + txt], check=True)
        mine = blocks(txt)
        os.unlink(txt)
        older = blocks(os.path.join(a.older, "%03d.txt" % int(i)))
        st, cv = totals(mine)
        if (o["statements"], o["covered_statements"]) != (st, cv):
            bad.append("%s same-bytes: report %d/%d, covdata textfmt of livecov's files %d/%d" % (
                name, o["covered_statements"], o["statements"], cv, st))
        ost, ocv = totals(older)
        if set(mine) != set(older) or ost != st:
            bad.append("%s vs-older: block sets differ (%d vs %d blocks, %d vs %d statements)" % (
                name, len(mine), len(older), st, ost))
            continue
        up_rt, up_other, down, pkgs = 0, 0, [], {}
        for pos, (n, c) in mine.items():
            was, now = older[pos][1] > 0, c > 0
            if was == now:
                continue
            if not now:
                down.append(pos)
            elif pos.startswith(VOLATILE):
                up_rt += n
            else:
                up_other += n
                pkg = os.path.dirname(pos.split(":", 1)[0])
                pkgs[pkg] = pkgs.get(pkg, 0) + n
        if down:
            bad.append("%s vs-older: covered by the older way's snapshot, not by livecov's later one: %s" % (
                name, ", ".join(down[:8])))
        if (up_rt + up_other) * 100 > st:
            bad.append("%s vs-older: %d statements newly covered between the two snapshots (over 1%% of %d)" % (
                name, up_rt + up_other, st))
        drift.append(up_rt + up_other)
        for k, v in pkgs.items():
            drift_pkgs[k] = drift_pkgs.get(k, 0) + v
        lines.append("%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d" % (i, name, st, cv, ost, ocv, up_rt, up_other))
    os.rmdir(tmp)
    head = ("index\tbinary\tstatements\tcovered(livecov report)\tstatements(older)\tcovered(older)\t"
            "newly covered: runtime\tnewly covered: other\n")
    med = sorted(drift)[len(drift) // 2] if drift else 0
    summary = ("%d processes checked: report == covdata textfmt of livecov's own snapshot files (exact); statements == "
               "the older way's; covered: newly covered between the older way's snapshot and livecov's "
               "(GC/scheduler-driven blocks) median %d, max %d statements per process, none lost\n" % (
                   len(lines), med, max(drift) if drift else 0))
    summary += "newly covered outside runtime/, by package (sum over processes): %s\n" % (
        ", ".join("%s %d" % kv for kv in sorted(drift_pkgs.items(), key=lambda kv: -kv[1])) or "none")
    text = summary + "".join("MISMATCH " + b + "\n" for b in bad) + head + "".join(l + "\n" for l in lines)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(summary.strip())
    for b in bad:
        print("MISMATCH", b, file=sys.stderr)
    sys.exit(1 if bad or not lines else 0)


if __name__ == "__main__":
    main()
