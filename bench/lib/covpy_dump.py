#!/usr/bin/env python3
"""Print a combined coverage.py data file's lines and arcs per file in `livecov py combine`'s
JSON shape (coverage.py's own CoverageData API), for comparing the two combines."""
import json
import sys

import coverage

d = coverage.CoverageData(sys.argv[1])
d.read()
files = {}
for f in sorted(d.measured_files()):
    e = {"executed_lines": sorted(d.lines(f) or [])}
    if d.has_arcs():
        e["arcs"] = [list(a) for a in sorted(d.arcs(f) or [])]
    files[f] = e
json.dump({"measurement": "arcs" if d.has_arcs() else "lines", "files": files}, sys.stdout)
