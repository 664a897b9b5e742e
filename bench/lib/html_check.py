#!/usr/bin/env python3
"""html_check.py - the HTML rows' correctness check: the per-file statement totals
livecov's pages show must equal those of the merged text profile (`covdata textfmt`).

usage:
  html_check.py page --profile P --page OUT/index.html [--stderr FILE]
      one build page (`livecov go html -o=OUT`): its `files` array and page totals
      against P; with --stderr, the summary line `html: N files (K with source, M not
      found, X not matching)` livecov printed must have N = the files of P and K = the
      files whose `source` is "ok". Prints one line: `ok: ...` (with the number of files
      shown with their source) or the differences.
  html_check.py site --site DIR --plan PLAN
      a `livecov cluster render` site: for every build of PLAN (lines: meta hash, binary,
      profile, ... tab-separated), DIR/b/<hash>/index.html against its profile, and
      DIR/index.html's `builds` entry; the site's builds must be exactly PLAN's. Also
      prints the number of files shown with their source.

Totals from a text profile: a block (file, start/end line.col) counts once, its
NumStmt; it is covered when any of its lines has a count > 0 (textfmt writes each block
once; repeated blocks are merged the way `go tool cover` merges them). Exit status 1 on
any difference, 2 on a usage or parse error. Python stdlib only.
"""
import argparse
import json
import re
import sys

DATA = re.compile(r'<script id="livecov-data" type="application/json">(.*?)</script>', re.S)
SUMMARY = re.compile(r"^html: (\d+) files \((\d+) with source, (\d+) not found, (\d+) not matching\)", re.M)


def profile_totals(path):
    """{file: [statements, covered]} of a text profile."""
    blocks = {}
    with open(path) as f:
        first = f.readline()
        if not first.startswith("mode: "):
            raise ValueError("%s: not a text profile (no mode line)" % path)
        for n, line in enumerate(f, 2):
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                pos, stmts, count = line.rsplit(" ", 2)
                name, _ = pos.rsplit(":", 1)
                stmts, count = int(stmts), int(count)
            except ValueError:
                raise ValueError("%s:%d: not a profile line: %r" % (path, n, line))
            old = blocks.get(pos)
            blocks[pos] = (name, stmts, count > 0 or (old is not None and old[2]))
    files = {}
    for name, stmts, hit in blocks.values():
        t = files.setdefault(name, [0, 0])
        t[0] += stmts
        t[1] += stmts if hit else 0
    return files


def page_data(path):
    with open(path, encoding="utf-8") as f:
        m = DATA.search(f.read())
    if not m:
        raise ValueError('%s: no <script id="livecov-data" type="application/json">' % path)
    return json.loads(m.group(1))


def compare(what, prof, data, problems):
    """Appends differences between a build page's data and the profile's totals."""
    want = profile_totals(prof)
    got = {f["path"]: (f["statements"], f["covered"]) for f in data.get("files", [])}
    for name in sorted(set(want) | set(got)):
        w, g = want.get(name), got.get(name)
        if w is None:
            problems.append("%s: %s is on the page, not in the profile" % (what, name))
        elif g is None:
            problems.append("%s: %s (%d statements) is in the profile, not on the page" % (what, name, w[0]))
        elif tuple(w) != tuple(g):
            problems.append("%s: %s: page %d statements / %d covered, profile %d / %d" % (what, name, g[0], g[1], w[0], w[1]))
    ws, wc = sum(t[0] for t in want.values()), sum(t[1] for t in want.values())
    if (data.get("statements"), data.get("covered")) != (ws, wc):
        problems.append("%s: page totals %s / %s covered, profile %d / %d" % (what, data.get("statements"), data.get("covered"), ws, wc))
    return len(want), ws, wc, sum(f.get("source") == "ok" for f in data.get("files", []))


def cmd_page(a):
    problems = []
    nfiles, st, cov, src = compare(a.page, a.profile, page_data(a.page), problems)
    extra = ""
    if a.stderr:
        with open(a.stderr) as f:
            m = SUMMARY.search(f.read())
        if not m:
            problems.append("%s: no `html: N files (K with source, ...)` line" % a.stderr)
        else:
            n, k, miss, mism = map(int, m.groups())
            if n != nfiles:
                problems.append("summary line says %d files, the profile has %d" % (n, nfiles))
            if k != src:
                problems.append("summary line says %d files with source, the page's files array %d" % (k, src))
            extra = " (summary line: %d not found, %d not matching)" % (miss, mism)
    return report(problems, "%d files, %d statements, %d covered: per-file totals equal the profile's; %d files with source%s" % (
        nfiles, st, cov, src, extra))


def cmd_site(a):
    problems = []
    plan = [l.rstrip("\n").split("\t") for l in open(a.plan) if l.strip()]
    index = page_data("%s/index.html" % a.site)
    builds = index.get("builds", {})
    if sorted(builds) != sorted(p[0] for p in plan):
        problems.append("index.html builds %s != the data's meta hashes %s" % (sorted(builds), sorted(p[0] for p in plan)))
    files = src = 0
    for h, binary, prof in (p[:3] for p in plan):
        page = "%s/b/%s/index.html" % (a.site, h)
        try:
            data = page_data(page)
        except (OSError, ValueError) as e:
            problems.append("%s (%s): %s" % (binary, h, e))
            continue
        n, st, cov, k = compare("%s (%s)" % (binary, h), prof, data, problems)
        files += n
        src += k
        b = builds.get(h, {})
        if (b.get("statements"), b.get("covered")) != (st, cov):
            problems.append("index.html builds[%s] (%s): %s / %s covered, profile %d / %d" % (h, binary, b.get("statements"), b.get("covered"), st, cov))
    return report(problems, "%d build pages, %d files: per-file and per-build totals equal the profiles'; %d files with source" % (
        len(plan), files, src))


def report(problems, ok):
    if problems:
        print("MISMATCH: %d difference(s) between livecov's pages and the text profiles:" % len(problems))
        for p in problems[:20]:
            print("  " + p)
        if len(problems) > 20:
            print("  ... %d more" % (len(problems) - 20))
        return 1
    print("ok: " + ok)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("page")
    p.add_argument("--profile", required=True)
    p.add_argument("--page", required=True)
    p.add_argument("--stderr")
    s = sub.add_parser("site")
    s.add_argument("--site", required=True)
    s.add_argument("--plan", required=True)
    a = ap.parse_args()
    try:
        return cmd_page(a) if a.cmd == "page" else cmd_site(a)
    except (OSError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
