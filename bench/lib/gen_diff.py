#!/usr/bin/env python3
"""Generate a diff-coverage benchmark (standard library only): an LCOV tracefile of S
statements (one per line: FILES files of S/FILES executable lines, two in three covered)
as one pod of a collection, and a unified diff adding C lines to it (C/CHANGED files, a
run of consecutive added lines in each, every added line an executable one).

usage: gen_diff.py --out DIR [--statements 2000000] [--files 1000] [--changed-lines 5000]
                   [--changed-files 100]

Writes DIR/collection/coverage/pod-0/coverage.info (+ metadata.json, so
`livecov cluster compile` takes it as one pod), DIR/change.diff, and DIR/repo, an empty
git repository diff-cover can run in. Deterministic.
"""
import argparse
import os
import subprocess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--statements", type=int, default=2_000_000)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--changed-lines", type=int, default=5000)
    ap.add_argument("--changed-files", type=int, default=100)
    a = ap.parse_args()
    per_file = a.statements // a.files
    per_change = a.changed_lines // a.changed_files
    pod = os.path.join(a.out, "collection", "coverage", "pod-0")
    os.makedirs(pod, exist_ok=True)
    path = lambda f: "pkg%03d/file%04d.go" % (f % 50, f)
    with open(os.path.join(pod, "coverage.info"), "w") as out:
        for f in range(a.files):
            out.write("TN:\nSF:%s\n" % path(f))
            # Executable lines 3.. per_file+2: line 1 is `package`, line 2 blank.
            out.write("FN:3,f%d\nFNDA:1,f%d\n" % (f, f))
            out.write("".join("DA:%d,%d\n" % (l, 0 if l % 3 == 0 else (l % 7) + 1)
                              for l in range(3, per_file + 3)))
            hit = sum(1 for l in range(3, per_file + 3) if l % 3 != 0)
            out.write("LF:%d\nLH:%d\nend_of_record\n" % (per_file, hit))
    with open(os.path.join(pod, "metadata.json"), "w") as out:
        out.write('{"pod_name": "bench-0", "namespace": "bench", "container": {"name": "app", '
                  '"image": "img/bench"}, "binary_name": "bench", "collected_at": '
                  '"2026-01-01T00:00:00Z", "hostname": "node-a", "host_process": false, '
                  '"owner_kind": "Deployment", "owner_name": "bench"}\n')
    # The change: in every changed file, lines START..START+per_change-1 are new (the old
    # file had per_file - per_change lines after START-1).
    step = a.files // a.changed_files
    start = per_file // 2
    with open(os.path.join(a.out, "change.diff"), "w") as out:
        for k in range(a.changed_files):
            p = path(k * step)
            out.write("diff --git a/%s b/%s\nindex 1111111..2222222 100644\n--- a/%s\n+++ b/%s\n"
                      % (p, p, p, p))
            out.write("@@ -%d,0 +%d,%d @@ func f()\n" % (start - 1, start, per_change))
            out.write("".join("+\tx%d := step(%d)\n" % (l, l) for l in range(per_change)))
    repo = os.path.join(a.out, "repo")
    if not os.path.isdir(os.path.join(repo, ".git")):
        os.makedirs(repo, exist_ok=True)
        subprocess.run(["git", "init", "-q", repo], check=True)
        subprocess.run(["git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@b",
                        "commit", "-q", "--allow-empty", "-m", "empty"], check=True)
    print("%d statements in %d files; %d added lines in %d files"
          % (per_file * a.files, a.files, per_change * a.changed_files, a.changed_files))


main()
