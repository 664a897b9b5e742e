#!/usr/bin/env python3
"""Generate a large set of LCOV tracefiles from real producers' output (standard library only).

usage: gen_lcov.py --out DIR --files N --mib-per-file S SEED.info [SEED.info ...]

Each SEED is a real tracefile (`coverage lcov`, `llvm-cov export -format=lcov`, `lcov -c`
over gcc). Every output file holds the seeds' SF blocks replicated under path prefixes
copy0/, copy1/, ... until it reaches S MiB; all outputs share the same set of
(test, path) blocks, as tracefiles of repeated test runs of one project do, so merging
them really adds counts up. DA, FNDA and BRDA counts are varied per output file by a
seeded RNG (zero stays zero half of the time; "-" stays "-"). Deterministic for a seed.
"""
import argparse
import os
import random


def blocks(path):
    out, cur = [], []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line or line.startswith("#") or line.startswith("TN:"):
                continue
            cur.append(line)
            if line == "end_of_record":
                out.append(cur)
                cur = []
    return out


def vary(rng, n):
    if n == 0:
        return 0 if rng.random() < 0.5 else rng.randint(1, 3)
    return rng.randint(0, 3 * n + 5)


def render(block, prefix, rng):
    lines = []
    for line in block:
        tag, _, rest = line.partition(":")
        if tag == "SF":
            p = rest.lstrip("/")
            lines.append("SF:/src/%s%s" % (prefix, p))
        elif tag == "DA":
            parts = rest.split(",")
            parts[1] = str(vary(rng, int(parts[1])))
            lines.append("DA:" + ",".join(parts))
        elif tag == "FNDA":
            n, _, name = rest.partition(",")
            lines.append("FNDA:%d,%s" % (vary(rng, int(n)), name))
        elif tag == "BRDA":
            head, _, taken = rest.rpartition(",")
            if taken != "-":
                taken = str(vary(rng, int(taken)))
            lines.append("BRDA:%s,%s" % (head, taken))
        elif tag in ("LF", "LH", "FNF", "FNH", "BRF", "BRH"):
            continue  # totals: readers recompute them (lcov 1.16 too)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--mib-per-file", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("seeds", nargs="+")
    a = ap.parse_args()
    seed_blocks = [b for s in a.seeds for b in blocks(s)]
    if not seed_blocks:
        raise SystemExit("gen_lcov.py: no SF blocks in the seeds")
    os.makedirs(a.out, exist_ok=True)
    target = int(a.mib_per_file * 1024 * 1024)
    # The number of copies is fixed by the first file, so every file has the same blocks.
    copies = None
    total = 0
    for i in range(a.files):
        rng = random.Random(a.seed * 1000003 + i)
        size, k = 0, 0
        with open(os.path.join(a.out, "run%04d.info" % i), "w", encoding="utf-8",
                  errors="surrogateescape") as f:
            while (copies is None and size < target) or (copies is not None and k < copies):
                f.write("TN:\n")
                for b in seed_blocks:
                    text = render(b, "copy%d/" % k, rng)
                    f.write(text)
                    size += len(text) + 4
                k += 1
        copies = k
        total += os.path.getsize(os.path.join(a.out, "run%04d.info" % i))
    print("%d files, %d copies of %d seed blocks each, %.1f MiB in all" % (
        a.files, copies, len(seed_blocks), total / 1048576))


if __name__ == "__main__":
    main()
