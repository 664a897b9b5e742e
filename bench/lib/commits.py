#!/usr/bin/env python3
"""commits.py - helpers of compare-commits.sh (livecov at two commits, same data).

usage: commits.py same-report BASE.json HEAD.json
         The two `livecov report --format json` documents must list the same builds
         (statements, covered statements, owners, pods) and the same owners
         (statements, covered statements, pods, containers, hosts, images), and
         neither may list an input error. Prints the counts; on a difference prints
         the first differences and exits 1.
       commits.py table RESULTS_DIR [--limit 1.10]
         Reads RESULTS_DIR/rows.tsv (label, description) and, per row,
         RESULTS_DIR/<label>.json (timeit.py --json with A = head, B = base) and
         RESULTS_DIR/load.txt; prints a Markdown table (base median, head median,
         median of the pairwise head/base wall ratios, cpu medians and the median of
         the pairwise cpu ratios, 1-minute load average before and after) and writes
         it to RESULTS_DIR/summary.md. Exit 0 either way: the
         verdict column says which rows are over the limit. With
         RESULTS_DIR/phases.txt (LIVECOV_TIMINGS=1 compiles, `== base (i)` and
         `== head (i)` headers), also the median of each phase per commit.
"""
import json
import re
import statistics
import sys


def fail(msg):
    print("commits.py: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))


def builds_of(doc, path):
    out = {}
    for b in doc.get("builds", []):
        out[b["build"]] = dict(mode=b["mode"], statements=b["statements"],
                               covered=b["covered_statements"], owners=b["owners"], pods=b["pods"])
    if not out:
        fail("%s lists no builds" % path)
    return out


def owners_of(doc, path):
    out = {}
    for o in doc.get("owners", []):
        key = (o["namespace"], o["owner_type"], o["owner"], o["binary"], o["build"])
        if key in out:
            fail("%s lists owner %s twice" % (path, "/".join(key)))
        out[key] = dict(statements=o["statements"], covered=o["covered_statements"],
                        pods=sorted(o["pods"]), containers=sorted(o["containers"]),
                        hosts=sorted(o["hosts"]), images=sorted(o["images"]))
    if not out:
        fail("%s lists no owners" % path)
    return out


def diff(kind, a, b, an, bn):
    out = []
    for k in sorted(set(a) | set(b), key=str):
        if k not in a:
            out.append("%s %s: only in %s" % (kind, k, bn))
        elif k not in b:
            out.append("%s %s: only in %s" % (kind, k, an))
        elif a[k] != b[k]:
            fields = [f for f in a[k] if a[k][f] != b[k].get(f)]
            out.append("%s %s: %s" % (kind, k, ", ".join(
                "%s %s=%r, %s=%r" % (f, an, a[k][f], bn, b[k].get(f)) for f in fields)))
    return out


def same_report(base_path, head_path):
    base, head = load(base_path), load(head_path)
    problems = []
    for name, doc in (("base", base), ("head", head)):
        if doc.get("errors"):
            problems.append("%s report lists %d input error(s), first: %r" % (name, len(doc["errors"]), doc["errors"][0]))
    bb, hb = builds_of(base, base_path), builds_of(head, head_path)
    bo, ho = owners_of(base, base_path), owners_of(head, head_path)
    problems += diff("build", bb, hb, "base", "head")
    problems += diff("owner", bo, ho, "base", "head")
    if problems:
        print("the two stores disagree (%d difference(s)):" % len(problems), file=sys.stderr)
        for p in problems[:30]:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    pods = len({p for o in bo.values() for p in o["pods"]})
    print("same report: %d builds, %d owners, %d pods; statements %d, covered %d (sum over builds)" % (
        len(bb), len(bo), pods, sum(b["statements"] for b in bb.values()), sum(b["covered"] for b in bb.values())))


def loads(path):
    """label -> {before, after}: the 1-minute load average read before and after the row
    (load.txt keeps all three)."""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[1] in ("before", "after"):
                out.setdefault(parts[0], {})[parts[1]] = parts[2]
    return out


def phases(path):
    """Markdown table of the median of each LIVECOV_TIMINGS phase per commit, or ''."""
    try:
        f = open(path)
    except OSError:
        return ""
    got, order, role, runs = {}, [], None, {}
    with f:
        for line in f:
            m = re.match(r"^== (base|head) \(", line)
            if m:
                role = m.group(1)
                runs[role] = runs.get(role, 0) + 1
                continue
            m = re.match(r"^timing: (.*) ([0-9.]+) ms$", line.strip())
            if m and role:
                name = m.group(1)
                if name not in order:
                    order.append(name)
                got.setdefault((role, name), []).append(float(m.group(2)))
    if not order:
        return ""
    med = lambda k: "%.1f ms" % statistics.median(got[k]) if k in got else "-"
    out = ["| compile phase (LIVECOV_TIMINGS=1, median of %d / %d runs) | base | head |" % (
        runs.get("base", 0), runs.get("head", 0)), "|---|---:|---:|"]
    for name in order:
        out.append("| %s | %s | %s |" % (name, med(("base", name)), med(("head", name))))
    return "\n".join(out) + "\n"


def table(results, limit):
    rows = []
    with open(results + "/rows.tsv") as f:
        for line in f:
            label, _, desc = line.rstrip("\n").partition("\t")
            rows.append((label, desc))
    ld = loads(results + "/load.txt")
    out = ["| row | base median | head median | head/base (median of pairs) | cpu base / head (median of pairs) | load before → after | ≤ %.2f |" % limit,
           "|---|---:|---:|---:|---:|---|---|"]
    for label, desc in rows:
        doc = load("%s/%s.json" % (results, label))
        head, base = doc["commands"]["A"], doc["commands"]["B"]
        ratio = doc["ratio_A_over_B"]["median"]
        pairs = list(zip(head["runs"], base["runs"]))
        cpu_ratio = statistics.median(h["cpu"] / b["cpu"] if b["cpu"] > 0 else float("nan") for h, b in pairs)
        l = ld.get(label, {})
        out.append("| %s (%d pairs) | %.3f s | %.3f s | **%.3f** | %.3f / %.3f s (%.3f) | %s → %s | %s |" % (
            desc, len(pairs), base["wall"]["median"], head["wall"]["median"], ratio,
            base["cpu"]["median"], head["cpu"]["median"], cpu_ratio,
            l.get("before", "?"), l.get("after", "?"), "yes" if ratio <= limit else "**no**"))
    text = "\n".join(out) + "\n"
    ph = phases(results + "/phases.txt")
    if ph:
        text += "\n" + ph
    with open(results + "/summary.md", "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    a = sys.argv[1:]
    if a[:1] == ["same-report"] and len(a) == 3:
        same_report(a[1], a[2])
    elif a[:1] == ["table"] and len(a) in (2, 4) and (len(a) == 2 or a[2] == "--limit"):
        table(a[1], float(a[3]) if len(a) == 4 else 1.10)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
