#!/usr/bin/env python3
"""Lays out the live-collection bench's operator source (issue 9) in DEST: go-ops'
main.go, the feature files given, go.mod, and lib/ops_serve.go, with main.go patched in
two places so OPS_SERVE=1 keeps it serving (see ops_serve.go). Fails if an anchor is not
found exactly once, so a changed main.go is noticed instead of building a runner.

usage: live_build.py GO_OPS_DIR DEST FEATURE...
"""
import os
import shutil
import sys

PATCHES = [
    ('ln, err := net.Listen("tcp", "127.0.0.1:0")', 'ln, err := net.Listen("tcp", opsListenAddr())'),
    ('\tget(client, base+"/healthz")\n\tget(client, base+"/does-not-exist")\n',
     '\topsServe(base, failures)\n\tget(client, base+"/healthz")\n\tget(client, base+"/does-not-exist")\n'),
]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip())
    src, dest, feats = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(dest, exist_ok=True)
    for f in os.listdir(dest):
        if f.endswith(".go"):
            os.unlink(os.path.join(dest, f))
    with open(os.path.join(src, "main.go")) as f:
        text = f.read()
    for old, new in PATCHES:
        n = text.count(old)
        if n != 1:
            sys.exit("live_build.py: %s/main.go: expected the anchor %r once, found it %d times" % (src, old, n))
        text = text.replace(old, new)
    with open(os.path.join(dest, "main.go"), "w") as f:
        f.write(text)
    for feat in feats:
        shutil.copy(os.path.join(src, "f_%s.go" % feat), dest)
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copy(os.path.join(here, "ops_serve.go"), os.path.join(dest, "zz_ops_serve.go"))
    with open(os.path.join(dest, "go.mod"), "w") as f:
        f.write("module example.com/ops/live-operator\n\ngo 1.23\n")


if __name__ == "__main__":
    main()
