#!/usr/bin/env python3
"""compile_check.py - per-build totals of `livecov report` vs `covdata textfmt`.

usage: compile_check.py --report REPORT.json --data DATA --covdata COVDATA
                        --out DIR [--builds all|H1,H2,...] [--min 3]
                        [--expect-inputs N]

REPORT.json is `livecov report --collection C --format json` of a collection
whose coverage/ is DATA (a gen-go-cluster.sh output). For each checked build
(meta hash, from DATA/manifest.tsv), runs `COVDATA textfmt -i=<all dirs of
the build> -o=DIR/<binary>.txt` and sums NumStmt over its lines (statements)
and over its lines with count > 0 (covered); livecov's `statements` and
`covered_statements` of that build must be equal.

On a mismatch, it explains what it can: the mismatched builds are compared again
with covdata over a copy of their dirs (hard links) that keeps only the newest
counter file of each (dir, meta hash, pid); when livecov equals that, livecov
kept only the latest snapshot of a pid that several process lifetimes share
(a restarted container is pid 1 again), where covdata adds them all.

Also fails when: the report lists errors, its builds are not exactly the meta
hashes of the manifest, fewer than --min builds were compared, or compile-all
(the XL build) is in the data but was not compared. Prints one line per build;
exit status 1 on any failure.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys


def totals(path):
    stmts = covered = lines = 0
    with open(path) as f:
        first = f.readline()
        if not first.startswith("mode:"):
            raise SystemExit("%s: not a text profile (first line %r)" % (path, first[:40]))
        for line in f:
            # file:l.c,l.c NumStmt Count
            _, ns, cnt = line.rsplit(" ", 2)
            ns = int(ns)
            stmts += ns
            if int(cnt) > 0:
                covered += ns
            lines += 1
    return stmts, covered, lines


def textfmt_totals(covdata, dirs, out):
    r = subprocess.run([covdata, "textfmt", "-i=" + ",".join(sorted(dirs)), "-o=" + out],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[:300]
    t = totals(out)
    os.unlink(out)  # up to ~20 MB each; the figures are what matter
    return t, None


def newest_only(dirs, shadow):
    """Copies (hard links, else copies) dirs into shadow, keeping only the newest
    counter file of each (meta hash, pid); returns the new dirs and how many
    counter files were left out."""
    out, dropped = [], 0
    for d in dirs:
        nd = os.path.join(shadow, os.path.basename(d))
        os.makedirs(nd)
        best = {}
        for f in os.listdir(d):
            m = re.match(r"^covcounters\.([0-9a-f]+)\.(\d+)\.(\d+)$", f)
            if m:
                k = (m.group(1), m.group(2))
                if k in best:
                    dropped += 1
                if k not in best or int(m.group(3)) > int(best[k].rsplit(".", 1)[1]):
                    best[k] = f
                continue
            if f.startswith("covmeta."):
                link(os.path.join(d, f), os.path.join(nd, f))
        for f in best.values():
            link(os.path.join(d, f), os.path.join(nd, f))
        out.append(nd)
    return out, dropped


def link(a, b):
    try:
        os.link(a, b)
    except OSError:
        shutil.copyfile(a, b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--covdata", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--builds", default="all")
    ap.add_argument("--min", type=int, default=3)
    ap.add_argument("--expect-inputs", type=int)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rep = json.load(open(a.report))
    fails = []
    if rep.get("errors"):
        fails.append("report lists %d input error(s), e.g. %s" % (len(rep["errors"]), rep["errors"][0]))

    # manifest: dir, binary, meta_hash, ...
    dirs_of, binary_of = {}, {}
    with open(os.path.join(a.data, "manifest.tsv")) as f:
        next(f)
        for line in f:
            r = line.rstrip("\n").split("\t")
            dirs_of.setdefault(r[2], []).append(os.path.join(a.data, r[0]))
            binary_of[r[2]] = r[1]
    if a.expect_inputs is not None and sum(map(len, dirs_of.values())) != a.expect_inputs:
        fails.append("manifest has %d dirs, expected %d" % (sum(map(len, dirs_of.values())), a.expect_inputs))
    builds = {b["build"]: b for b in rep.get("builds", [])}
    if set(builds) != set(dirs_of):
        fails.append("report builds != manifest meta hashes: only in report %s, only in manifest %s" % (
            sorted(set(builds) - set(dirs_of)), sorted(set(dirs_of) - set(builds))))
    if a.builds == "all":
        todo = sorted(dirs_of, key=lambda h: binary_of[h])
    else:
        want = a.builds.split(",")
        todo = [h for h in dirs_of if h in want or binary_of[h] in want]
    compared, bad = [], []
    for h in todo:
        name = binary_of[h]
        t, err = textfmt_totals(a.covdata, dirs_of[h], os.path.join(a.out, "%s.txt" % name))
        if t is None:
            fails.append("covdata textfmt of %s failed: %s" % (name, err))
            continue
        s, c, n = t
        b = builds.get(h)
        if b is None:
            fails.append("%s (%s): not in the report" % (name, h))
            continue
        ok = b["statements"] == s and b["covered_statements"] == c
        print("  %-32s %3d dirs  statements %7d / covdata %7d  covered %7d / covdata %7d  %s" % (
            name, len(dirs_of[h]), b["statements"], s, b["covered_statements"], c, "ok" if ok else "MISMATCH"))
        if not ok:
            bad.append(h)
            fails.append("%s (%s, %d dirs): livecov statements/covered %d/%d, covdata textfmt %d/%d (%d lines)" % (
                name, h, len(dirs_of[h]), b["statements"], b["covered_statements"], s, c, n))
        compared.append(name)
    if len(compared) < a.min:
        fails.append("only %d build(s) compared (at least %d required)" % (len(compared), a.min))
    if "compile-all" in binary_of.values() and "compile-all" not in compared:
        fails.append("compile-all (the XL build) is in the data but was not compared")
    for f in fails:
        print("MISMATCH: " + f, file=sys.stderr)
    if bad:
        explain(a, bad, dirs_of, binary_of, builds)
    if fails:
        return 1
    print("per-build statements and covered statements equal covdata textfmt's: %d builds (%s)" % (
        len(compared), ", ".join(compared)))
    return 0


def explain(a, bad, dirs_of, binary_of, builds):
    shadow = os.path.join(a.out, "newest-per-pid")
    shutil.rmtree(shadow, ignore_errors=True)
    same = []
    dropped_all = 0
    for h in bad:
        dirs, dropped = newest_only(dirs_of[h], os.path.join(shadow, binary_of[h]))
        dropped_all += dropped
        t, _ = textfmt_totals(a.covdata, dirs, os.path.join(a.out, "%s.newest.txt" % binary_of[h]))
        b = builds[h]
        if t is not None and (t[0], t[1]) == (b["statements"], b["covered_statements"]):
            same.append(binary_of[h])
    shutil.rmtree(shadow, ignore_errors=True)
    if len(same) == len(bad):
        print("EXPLANATION: for all %d mismatched builds, livecov's figures equal covdata textfmt over only "
              "the newest counter file of each (dir, meta hash, pid) (%d older files left out): livecov keeps "
              "the latest snapshot per pid, so a process that restarted with the same pid (a container's pid 1) "
              "loses its earlier runs' coverage, which covdata adds up." % (len(bad), dropped_all), file=sys.stderr)
    else:
        print("(not explained by newest-counter-file-per-pid: only %d of %d mismatched builds match that: %s)" % (
            len(same), len(bad), ", ".join(same) or "none"), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
