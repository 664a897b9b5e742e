#!/usr/bin/env python3
"""Whole-process timer: run a command RUNS times (after WARMUP), print
min/median/max of wall, cpu (user+sys of the reaped child tree) and peak RSS;
with --vs 'B', run A and B alternately and print the pairwise A/B wall ratio.

usage: timeit.py [-n RUNS] [--warmup W] [--timeout S] [--vs 'COMMAND_B']
                 [--json FILE] [--label L] [--strict] [--prep 'SHELL CMD']
                 [--swap-order]
                 -- COMMAND [ARG ...]
A command that needs a shell is written as: sh -c '...'.

Copy of ../shared/bench/lib/timeit.py with, for livecov's bench/run.sh:
  --json FILE  also write every run (wall, cpu, peak MiB, exit code) and the
               min/median/max as JSON (read by lib/summary.py);
  --label L    name recorded in the JSON and printed in the header;
  --strict     exit 1 if any run (warm-up included) exits non-zero;
  --prep CMD   shell command run, untimed, before every run (e.g. empty the
               output directory, so deleting last run's files is not timed);
  --swap-order with --vs, run B before A in every second pair (warm-up
               included), so neither command always runs first;
  long arguments (e.g. -i=<500 dirs>) are abbreviated in the printed header.
Peak RSS: the largest single process of the command's tree (for
`sh -c 'loop'` the largest one invocation, not a sum). Read with GNU time
(%M) when /usr/bin/time is GNU time; otherwise ru_maxrss from wait4, which
has a floor of this Python's own RSS (~15 MiB; Linux keeps the pre-exec
high-water mark of a forked child). Set TIMEIT_NO_GNU_TIME=1 for the latter.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def gnu_time():
    """Path of GNU time, if installed (used only to read the child's peak RSS)."""
    for p in ("/usr/bin/time", "/bin/time"):
        try:
            r = subprocess.run([p, "-f", "%M", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)
            if r.returncode == 0 and r.stderr.strip().isdigit():
                return p
        except (OSError, subprocess.SubprocessError):
            pass
    return None


GNU_TIME = None if os.environ.get("TIMEIT_NO_GNU_TIME") else gnu_time()
RSS_SOURCE = ("GNU time %M (peak RSS of the command's largest process)" if GNU_TIME else
              "wait4 ru_maxrss (includes this Python timer's ~15 MiB at fork: a floor)")


def once(cmd, prep=None):
    if prep:
        subprocess.run(prep, shell=True, check=True)
    rssf = None
    if GNU_TIME:
        # A process forked from this Python starts with Python's RSS and keeps
        # it as its ru_maxrss across exec; GNU time (about 1 MiB) forks the
        # command, so its %M is the command's own peak.
        fd, rssf = tempfile.mkstemp(prefix="timeit-rss.")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", rssf, "--"] + list(cmd)
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    # children's rusage (grandchildren included once reaped by the child)
    peak = ru.ru_maxrss / 1024.0
    if rssf:
        with open(rssf) as f:
            lines = [l.strip() for l in f if l.strip()]
        os.unlink(rssf)
        if lines and lines[-1].isdigit():
            peak = int(lines[-1]) / 1024.0
    return wall, ru.ru_utime + ru.ru_stime, peak, os.waitstatus_to_exitcode(status)


def fmt(label, xs, unit):
    return "%-6s min %9.3f  median %9.3f  max %9.3f %s" % (label, min(xs), statistics.median(xs), max(xs), unit)


def short(cmd, limit=160):
    out = []
    for a in cmd:
        if len(a) > limit:
            a = "%s...(%d chars, %d commas)" % (a[:limit // 2], len(a), a.count(","))
        out.append(a)
    return " ".join(shlex.quote(a) if a == "" or any(c in a for c in " \t'\"$;|&<>") else a for a in out)


def stats(xs):
    return dict(min=min(xs), median=statistics.median(xs), max=max(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--vs")
    ap.add_argument("--json")
    ap.add_argument("--label", default="")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--prep")
    ap.add_argument("--swap-order", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    cmds = [("A", cmd)] + ([("B", shlex.split(a.vs))] if a.vs else [])
    bad = []

    def order(i):
        return cmds[::-1] if a.swap_order and i % 2 == 1 else cmds

    for i in range(a.warmup):
        for k, c in order(i):
            r = once(c, a.prep)
            if r[3] != 0:
                bad.append((k, "warm-up", r[3]))
    res = {k: [] for k, _ in cmds}
    deadline = time.monotonic() + a.timeout
    for i in range(max(1, a.n)):
        for k, c in order(a.warmup + i):
            res[k].append(once(c, a.prep))
        if time.monotonic() > deadline:
            break
    doc = dict(label=a.label, rss_source=RSS_SOURCE, commands={})
    for k, c in cmds:
        r = res[k]
        codes = sorted(set(x[3] for x in r))
        bad += [(k, "timed", x[3]) for x in r if x[3] != 0]
        print("%s%s: %s   (%d runs, exit codes %s)" % (k, " [%s]" % a.label if a.label and k == "A" else "",
                                                       short(c), len(r), codes))
        print("  " + fmt("wall", [x[0] for x in r], "s"))
        print("  " + fmt("cpu", [x[1] for x in r], "s"))
        print("  " + fmt("peak", [x[2] for x in r], "MiB"))
        doc["commands"][k] = dict(cmd=short(c, 400), runs=[dict(wall=x[0], cpu=x[1], peak_mib=x[2], rc=x[3]) for x in r],
                                  wall=stats([x[0] for x in r]), cpu=stats([x[1] for x in r]),
                                  peak_mib=stats([x[2] for x in r]), exit_codes=codes)
    if a.vs:
        ratios = [x[0] / y[0] for x, y in zip(res["A"], res["B"])]
        print("  " + fmt("A/B", ratios, "(wall, pairwise)"))
        doc["ratio_A_over_B"] = stats(ratios)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    if a.strict and bad:
        print("timeit: %d run(s) exited non-zero: %s" % (len(bad), bad[:5]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
