#!/usr/bin/env python3
"""The older tool's live collection (../shared/specs/seed-system.md section 11), as a
faithful stand-in for the timing anchor of bench/live-collect.sh: for each target in
turn, GET <target>/coverage (the deployed coverage-server protocol), decode the base64
meta and counters of the JSON into OUT/<i>/ under the names the server gives, then run
`go tool covdata textfmt -i=OUT/<i> -o=OUT/<i>.txt`. One target after the other, as the
older collector and its per-dir textfmt did.

usage: older_collect.py [--go GO] OUT URL...
Exit status 1 if any target failed (each failure is printed; the others are still done).
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--go", default="go")
    ap.add_argument("out")
    ap.add_argument("urls", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    bad = 0
    for i, url in enumerate(a.urls):
        d = os.path.join(a.out, "%03d" % i)
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/coverage", timeout=30) as r:
                doc = json.loads(r.read())
            os.makedirs(d, exist_ok=True)
            for name_key, data_key in (("meta_filename", "meta_data"), ("counters_filename", "counters_data")):
                name = os.path.basename(doc[name_key])
                if not name:
                    raise ValueError("%s: empty %s" % (url, name_key))
                with open(os.path.join(d, name), "wb") as f:
                    f.write(base64.b64decode(doc[data_key], validate=True))
            subprocess.run([a.go, "tool", "covdata", "textfmt", "-i=" + d, "-o=" + d + ".txt"], check=True)
        except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as e:
            print("older_collect: %s: %s" % (url, e), file=sys.stderr)
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
