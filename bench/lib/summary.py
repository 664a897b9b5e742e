#!/usr/bin/env python3
"""summary.py RESULTS - table of the timings written by bench/run.sh.

Reads RESULTS/<label>.json (from lib/timeit.py --json), RESULTS/machine.txt,
RESULTS/sizes.txt, and prints (and writes RESULTS/summary.md):
  1. one row per timed command: median wall, median cpu, median peak RSS;
  2. the comparisons the issue sets targets for: anchor/livecov wall ratio
     (how many times faster livecov is; verdicts use it), the same ratio of cpu
     time (steadier on a busy machine), peak RSS of both, the target, and
     PASS/FAIL (n/a when a side was not timed).
"""
import glob
import json
import os
import sys

# label -> description (per-binary labels are matched by prefix below)
ROWS = [
    ("floor-cat", "floor: cat every covmeta/covcounters file to /dev/null"),
    ("covdata-percent-all", "covdata percent -i=<all dirs> (covdata binary directly)"),
    ("gotool-percent-all", "go tool covdata percent -i=<all dirs>"),
    ("livecov-percent-all", "livecov go percent -i=<all dirs>"),
    ("paired-percent-all", "covdata percent -i=<all dirs>, runs interleaved with the next row"),
    ("gotool-textfmt-seq", "go tool covdata textfmt, once per dir, sequential (older tool's step 1)"),
    ("covdata-textfmt-seq", "covdata textfmt, once per dir, sequential (binary directly)"),
    ("livecov-textfmt-each", "livecov go textfmt -each -i=<all dirs> -o=DIR (one process)"),
    ("livecov-textfmt-loop", "livecov go textfmt, once per dir, sequential (same loop as covdata)"),
]
PAIRED_B = {"paired-percent-all": "livecov go percent -i=<all dirs>, interleaved with the row above"}
BIN_ROWS = [
    ("covdata-textfmt-bin-", "covdata textfmt -i=<all dirs of %s>"),
    ("livecov-textfmt-bin-", "livecov go textfmt -i=<all dirs of %s>"),
    ("covdata-func-bin-", "covdata func -i=<all dirs of %s>"),
    ("livecov-func-bin-", "livecov go func -i=<all dirs of %s>"),
]
# (name, anchor label, livecov label, kind, target)
#   kind "speedup": anchor/livecov wall >= target
#   kind "floor":   livecov/floor wall <= target (anchor label is the floor)
#   kind "info":    ratio shown, no target
COMPARE = [
    ("percent, all dirs: covdata binary / livecov (strict)", "covdata-percent-all", "livecov-percent-all", "speedup", 8.0),
    ("percent, all dirs: go tool covdata / livecov (as worded)", "gotool-percent-all", "livecov-percent-all", "speedup", 8.0),
    ("percent, all dirs, interleaved runs: covdata / livecov (median of pairwise ratios)", "paired-percent-all", "paired-percent-all", "paired", 8.0),
    ("percent, all dirs: livecov / cat floor", "floor-cat", "livecov-percent-all", "floor", 3.0),
    ("percent, all dirs: peak RSS livecov <= covdata", "covdata-percent-all", "livecov-percent-all", "rss", None),
    ("text per dir: go tool covdata loop / livecov -each", "gotool-textfmt-seq", "livecov-textfmt-each", "speedup", 20.0),
    ("text per dir: covdata loop / livecov -each", "covdata-textfmt-seq", "livecov-textfmt-each", "info", None),
    ("text per dir: covdata loop / livecov loop", "covdata-textfmt-seq", "livecov-textfmt-loop", "info", None),
    ("text per dir: go tool covdata loop / livecov loop", "gotool-textfmt-seq", "livecov-textfmt-loop", "info", None),
    # between the existing tools (context for the figures above)
    ("anchors: covdata percent / cat floor", "covdata-percent-all", "floor-cat", "info", None),
    ("anchors: go tool covdata percent / covdata percent", "gotool-percent-all", "covdata-percent-all", "info", None),
    ("anchors: go tool covdata loop / covdata loop", "gotool-textfmt-seq", "covdata-textfmt-seq", "info", None),
]


def load(res):
    d = {}
    for p in glob.glob(os.path.join(res, "*.json")):
        try:
            j = json.load(open(p))
        except ValueError:
            continue
        if "commands" in j and "A" in j["commands"]:
            d[os.path.basename(p)[:-5]] = j
    return d


def med(j, what):
    return j["commands"]["A"][what]["median"]


def fsec(x):
    return "%.3f s" % x if x < 100 else "%.1f s" % x


def main():
    res = sys.argv[1]
    d = load(res)
    out = []
    p = out.append
    for f in ("machine.txt", "sizes.txt"):
        path = os.path.join(res, f)
        if os.path.exists(path):
            p("```")
            p(open(path).read().rstrip())
            p("```")
            p("")
    rows = list(ROWS)
    bins = sorted(set(k[len(pre):] for k in d for pre, _ in BIN_ROWS if k.startswith(pre)))
    for b in bins:
        for pre, desc in BIN_ROWS:
            rows.append((pre + b, desc % b))
    compare = list(COMPARE)
    for b in bins:
        compare.append(("%s textfmt: covdata / livecov" % b, "covdata-textfmt-bin-" + b, "livecov-textfmt-bin-" + b, "info", None))
        compare.append(("%s func: covdata / livecov" % b, "covdata-func-bin-" + b, "livecov-func-bin-" + b, "info", None))

    p("| row | what | runs | wall (median) | cpu (median) | peak RSS |")
    p("|---|---|---:|---:|---:|---:|")
    for label, desc in rows:
        if label not in d:
            continue
        j = d[label]
        a = j["commands"]["A"]
        bad = "" if a["exit_codes"] == [0] else " (exit %s!)" % a["exit_codes"]
        p("| %s | %s%s | %d | %s | %s | %.1f MiB |" % (label, desc, bad, len(a["runs"]), fsec(med(j, "wall")),
                                                      fsec(med(j, "cpu")), med(j, "peak_mib")))
        if "B" in j["commands"]:
            b = j["commands"]["B"]
            bad = "" if b["exit_codes"] == [0] else " (exit %s!)" % b["exit_codes"]
            p("| %s (B) | %s%s | %d | %s | %s | %.1f MiB |" % (label, PAIRED_B.get(label, "B"), bad, len(b["runs"]),
                                                                fsec(b["wall"]["median"]), fsec(b["cpu"]["median"]),
                                                                b["peak_mib"]["median"]))
    p("")
    p("| comparison (first / second) | ratio (wall medians) | cpu ratio | peak RSS (first / second) | target | verdict |")
    p("|---|---:|---:|---:|---|---|")
    fails = 0
    for name, al, ll, kind, target in compare:
        if al not in d or ll not in d:
            if kind in ("speedup", "floor", "rss") and (target is not None or kind == "rss"):
                p("| %s | n/a | n/a | n/a | %s | n/a |" % (name, tgt(kind, target, d.get(al))))
            continue
        aw, lw = med(d[al], "wall"), med(d[ll], "wall")
        ac, lc = med(d[al], "cpu"), med(d[ll], "cpu")
        if kind == "paired":
            lc = d[al]["commands"]["B"]["cpu"]["median"]
        cr = (lc / ac if kind == "floor" else ac / lc) if min(ac, lc) > 0 else None
        cs = "-" if cr is None or kind == "rss" else ("%.2f×" if cr < 10 else "%.1f×") % cr
        ar, lr = med(d[al], "peak_mib"), med(d[ll], "peak_mib")
        if kind == "floor":
            ratio = lw / aw
            ok = ratio <= target
            rs = "%.2f× the floor" % ratio
        elif kind == "paired":
            ratio = d[al].get("ratio_A_over_B", {}).get("median")
            if ratio is None:
                continue
            ar, lr = med(d[al], "peak_mib"), d[al]["commands"]["B"]["peak_mib"]["median"]
            ok = ratio >= target
            rs = ("%.2f×" if ratio < 10 else "%.1f×") % ratio
        elif kind == "rss":
            ratio = None
            ok = lr <= ar
            rs = "-"
        else:
            ratio = aw / lw
            ok = ratio >= target if target else None
            rs = ("%.2f×" if ratio < 10 else "%.1f×") % ratio
        verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
        fails += ok is False
        p("| %s | %s | %s | %.1f / %.1f MiB | %s | %s |" % (name, rs, cs, ar, lr, tgt(kind, target, d[al]), verdict))
    p("")
    rss = next((j.get("rss_source") for j in d.values() if j.get("rss_source")), None)
    if rss:
        p("peak RSS: %s" % rss)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(res, "summary.md"), "w") as f:
        f.write(text)
    return 0


def tgt(kind, target, anchor=None):
    """Target text; with the anchor's timing, the livecov figure it implies."""
    if kind == "paired":
        return ">= %g× faster" % target
    if kind == "speedup" and target:
        bound = " (livecov <= %s)" % fsec(med(anchor, "wall") / target) if anchor else ""
        return ">= %g× faster%s" % (target, bound)
    if kind == "floor":
        bound = " (livecov <= %s)" % fsec(med(anchor, "wall") * target) if anchor else ""
        return "<= %g× the floor%s" % (target, bound)
    if kind == "rss":
        bound = " (<= %.1f MiB)" % med(anchor, "peak_mib") if anchor else ""
        return "livecov <= covdata%s" % bound
    return "-"


if __name__ == "__main__":
    sys.exit(main())
