#!/usr/bin/env python3
"""Compare two LCOV tracefiles' per-file, per-line hits (DA records, summed per line); exit
1 naming the first difference. Function hits (FNDA) are compared only with --functions:
lcov 1.x misreads lcov 2.x's `FN:start,end,name` (coverage.py writes it), taking the end
line for the name, so its FNDA for those differ by construction."""
import sys


def read(path):
    da, fn, sf = {}, {}, None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line.startswith("SF:"):
                sf = line[3:].rstrip("\n")
                da.setdefault(sf, {})
                fn.setdefault(sf, {})
            elif line.startswith("DA:"):
                n, h = line[3:].split(",")[:2]
                d = da[sf]
                d[int(n)] = d.get(int(n), 0) + int(h)
            elif line.startswith("FNDA:"):
                h, _, name = line[5:].rstrip("\n").partition(",")
                fn[sf][name] = fn[sf].get(name, 0) + int(h)
    # lcov drops a file with no DA records (an empty __init__.py); livecov keeps it.
    return ({k: v for k, v in da.items() if v}, {k: v for k, v in fn.items() if v or da[k]})


args = [x for x in sys.argv[1:] if x != "--functions"]
(a_da, a_fn), (b_da, b_fn) = read(args[0]), read(args[1])
if a_da != b_da:
    for k in sorted(set(a_da) | set(b_da)):
        if a_da.get(k) != b_da.get(k):
            sys.exit("DA differ for SF:%s" % k)
if "--functions" in sys.argv and a_fn != b_fn:
    for k in sorted(set(a_fn) | set(b_fn)):
        if a_fn.get(k) != b_fn.get(k):
            sys.exit("FNDA differ for SF:%s" % k)
print("same per-line hits: %d files with lines, %d lines" % (
    len(a_da), sum(len(v) for v in a_da.values())))
