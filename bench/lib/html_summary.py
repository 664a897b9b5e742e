#!/usr/bin/env python3
"""html_summary.py - sizes and tables of the HTML rows of bench/run.sh.

usage:
  html_summary.py sizes RESULTS [--go-file F] [--go-site DIR] [--cover-dir DIR]
                  [--site DIR] [--page-build HEX]
      measures the outputs of the last timed runs: F = `go tool cover -html` of one
      build (a single file), DIR = `livecov go html -o=DIR` of the same build, the
      directory of the per-build `go tool cover -html` files, and the `livecov cluster
      render` site (HEX: the build whose page weight is shown, e.g. compile-all's);
      writes RESULTS/html-sizes.json and appends lines to RESULTS/sizes.txt.
  html_summary.py table RESULTS
      appends the "HTML rows" section (rows, comparisons with the targets, sizes) to
      RESULTS/summary.md (run after lib/summary.py, which rewrites that file) and prints it.

Sizes are sums of regular files' byte sizes (not disk blocks). A livecov site's
"page weight" is what a browser loads to open a build page: its index.html plus the
shared assets (assets/*); the per-file f/<n>.js scripts load one at a time, on demand.
"""
import json
import os
import sys

ROWS = [
    ("html-gotool-cover-compile-all", "go tool cover -html=<merged profile of compile-all> (in GOROOT/src/cmd)"),
    ("html-livecov-go-compile-all", "livecov go html -i=<26 dirs of compile-all> -o=DIR -src=GOROOT/src/cmd (DIR emptied before each run)"),
    ("html-gotool-cover-all-builds", "go tool cover -html once per build (17 merged profiles), sequential (lib/html_cover_loop.sh)"),
    ("html-livecov-render-scratch", "livecov cluster render --collection C --output-dir DIR --force (DIR removed before each run)"),
    ("html-livecov-render-nochange", "livecov cluster render --collection C --output-dir DIR again, nothing changed (no --force)"),
]
# (name, anchor label, livecov label, target: anchor/livecov wall >= target, None: info)
COMPARE = [
    ("one build (compile-all): go tool cover -html / livecov go html", "html-gotool-cover-compile-all", "html-livecov-go-compile-all", 5.0),
    ("all builds: go tool cover -html loop / livecov cluster render --force", "html-gotool-cover-all-builds", "html-livecov-render-scratch", 5.0),
    ("all builds: go tool cover -html loop / livecov cluster render, nothing changed", "html-gotool-cover-all-builds", "html-livecov-render-nochange", None),
    ("livecov cluster render: --force from scratch / nothing changed", "html-livecov-render-scratch", "html-livecov-render-nochange", None),
]


def tree(path):
    """(bytes, files) of the regular files under path (or of the file path)."""
    if os.path.isfile(path):
        return os.path.getsize(path), 1
    total = n = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
                n += 1
    return total, n


def site_sizes(root, page):
    total, n = tree(root)
    assets = tree(os.path.join(root, "assets"))[0] if os.path.isdir(os.path.join(root, "assets")) else 0
    page_bytes = os.path.getsize(page) if os.path.isfile(page) else None
    return {"bytes": total, "files": n, "page_bytes": page_bytes, "assets_bytes": assets,
            "page_weight": None if page_bytes is None else page_bytes + assets}


def cmd_sizes(res, args):
    opts = dict(zip(args[::2], args[1::2]))
    doc, lines = {}, []
    f = opts.get("--go-file")
    if f and os.path.isfile(f):
        doc["gotool_one"] = {"bytes": os.path.getsize(f), "files": 1}
        lines.append("html, one build: go tool cover -html: %s in 1 file (%s)" % (mb(doc["gotool_one"]["bytes"]), f))
    d = opts.get("--go-site")
    if d and os.path.isdir(d):
        doc["livecov_one"] = s = site_sizes(d, os.path.join(d, "index.html"))
        lines.append("html, one build: livecov go html: %s in %d files; page weight %s (index.html %s + assets %s)" % (
            mb(s["bytes"]), s["files"], mb(s["page_weight"]), mb(s["page_bytes"]), mb(s["assets_bytes"])))
    d = opts.get("--cover-dir")
    if d and os.path.isdir(d):
        total, n = tree(d)
        doc["gotool_all"] = {"bytes": total, "files": n}
        lines.append("html, all builds: go tool cover -html per build: %s in %d files" % (mb(total), n))
    d = opts.get("--site")
    if d and os.path.isdir(d):
        h = opts.get("--page-build", "")
        doc["livecov_all"] = s = site_sizes(d, os.path.join(d, "b", h, "index.html"))
        s["index_bytes"] = os.path.getsize(os.path.join(d, "index.html")) if os.path.isfile(os.path.join(d, "index.html")) else None
        s["page_build"] = h
        lines.append("html, all builds: livecov cluster render: %s in %d files; index.html %s; page weight of build %s %s (page %s + assets %s)" % (
            mb(s["bytes"]), s["files"], mb(s["index_bytes"]), h[:12], mb(s["page_weight"]), mb(s["page_bytes"]), mb(s["assets_bytes"])))
    json.dump(doc, open(os.path.join(res, "html-sizes.json"), "w"), indent=1)
    with open(os.path.join(res, "sizes.txt"), "a") as f:
        for l in lines:
            f.write(l + "\n")
    return 0


def mb(n):
    if n is None:
        return "-"
    return "%.1f MB" % (n / 1e6) if n >= 1e5 else "%.1f kB" % (n / 1e3)


def fsec(x):
    return "%.3f s" % x if x < 100 else "%.1f s" % x


def cmd_table(res):
    d = {}
    for label, _ in ROWS:
        p = os.path.join(res, label + ".json")
        if os.path.exists(p):
            d[label] = json.load(open(p))["commands"]["A"]
    if not d:
        return 0
    out = ["", "## HTML rows", "", "| row | command | runs | wall | cpu | peak RSS |", "|---|---|---:|---:|---:|---:|"]
    for label, desc in ROWS:
        if label in d:
            a = d[label]
            out.append("| %s | %s | %d | %s | %s | %.1f MiB |" % (label, desc, len(a["runs"]), fsec(a["wall"]["median"]),
                                                               fsec(a["cpu"]["median"]), a["peak_mib"]["median"]))
    out += ["", "| comparison | anchor | livecov | wall ratio | cpu ratio | target | verdict |", "|---|---:|---:|---:|---:|---|---|"]
    fails = 0
    for name, al, ll, target in COMPARE:
        if al not in d or ll not in d:
            out.append("| %s | - | - | - | - | %s | n/a |" % (name, ">= %g×" % target if target else "-"))
            continue
        aw, lw = d[al]["wall"]["median"], d[ll]["wall"]["median"]
        ac, lc = d[al]["cpu"]["median"], d[ll]["cpu"]["median"]
        r, cr = aw / lw if lw else float("inf"), ac / lc if lc else float("inf")
        verdict = "-"
        if target:
            verdict = "PASS" if r >= target else "**FAIL**"
            fails += r < target
        out.append("| %s | %s | %s | %.2f× | %.2f× | %s | %s |" % (name, fsec(aw), fsec(lw), r, cr,
                                                                 ">= %g× (livecov <= %s)" % (target, fsec(aw / target)) if target else "-", verdict))
    p = os.path.join(res, "html-sizes.json")
    if os.path.exists(p):
        s = json.load(open(p))
        out += ["", "| output | go tool cover -html | livecov | livecov / go tool | target |", "|---|---:|---:|---:|---|"]
        if "gotool_one" in s and "livecov_one" in s:
            g, l = s["gotool_one"], s["livecov_one"]
            out.append("| one build (compile-all): total | %s (1 file) | %s (%d files) | %.2f× | smaller: %s |" % (
                mb(g["bytes"]), mb(l["bytes"]), l["files"], l["bytes"] / g["bytes"], "PASS" if l["bytes"] < g["bytes"] else "**FAIL**"))
            out.append("| one build: page weight (index.html + assets) | %s | %s (index.html %s) | %.3f× | - |" % (
                mb(g["bytes"]), mb(l["page_weight"]), mb(l["page_bytes"]), l["page_weight"] / g["bytes"]))
        if "gotool_all" in s and "livecov_all" in s:
            g, l = s["gotool_all"], s["livecov_all"]
            out.append("| all builds: total | %s (%d files) | %s (%d files) | %.2f× | - |" % (
                mb(g["bytes"]), g["files"], mb(l["bytes"]), l["files"], l["bytes"] / g["bytes"]))
            if l.get("page_weight") is not None:
                out.append("| all builds: page weight of build %s (page + assets) | - | %s (page %s; index.html %s) | - | - |" % (
                    l["page_build"][:12], mb(l["page_weight"]), mb(l["page_bytes"]), mb(l["index_bytes"])))
    text = "\n".join(out) + "\n"
    with open(os.path.join(res, "summary.md"), "a") as f:
        f.write(text)
    print(text)
    return 0


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("sizes", "table"):
        print(__doc__, file=sys.stderr)
        return 2
    return cmd_sizes(sys.argv[2], sys.argv[3:]) if sys.argv[1] == "sizes" else cmd_table(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
