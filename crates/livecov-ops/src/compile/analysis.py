"""livecov's coverage.py analysis helper (bundled in livecov; run by `cluster compile`).

Statements, excluded lines, missing lines and branches are not in a coverage.py data file:
coverage.py derives them by parsing the source with Python. This helper asks coverage.py's
own analysis for them, so livecov's numbers are coverage.py's.

Input on stdin, JSON: {"branch": bool, "files": [{"source": ABS_PATH, "lines": [N...]} or
{"source": ABS_PATH, "arcs": [[A, B]...]}]}: the executed lines (line mode) or arcs (branch
mode) of each source file, already combined and mapped to a local path by livecov.

Output on stdout, JSON: {"coverage_version", "python", "files": {ABS_PATH: {"statements",
"excluded", "missing", "summary"} or {"error"}}}. When coverage.py cannot be imported:
{"unavailable": WHY, "python"}. Standard library and coverage.py's public API only
(CoverageData, Coverage.load, analysis2, json_report).
"""

import json
import os
import sys
import tempfile


def main():
    request = json.load(sys.stdin)
    try:
        import coverage
        from coverage.data import CoverageData
    except Exception as e:  # ImportError, or a broken install
        json.dump({"unavailable": "%s: %s" % (type(e).__name__, e), "python": sys.executable}, sys.stdout)
        return 0
    out = {"coverage_version": coverage.__version__, "python": sys.executable, "files": {}}
    with tempfile.TemporaryDirectory(prefix="livecov-analysis-") as tmp:
        # The reporter names files relative to the current directory: from an empty one,
        # every name stays absolute and matches the request.
        os.chdir(tmp)
        data_file = os.path.join(tmp, ".coverage")
        data = CoverageData(basename=data_file)
        if request.get("branch"):
            data.add_arcs({f["source"]: [tuple(a) for a in f.get("arcs", [])] for f in request["files"]})
        else:
            data.add_lines({f["source"]: f.get("lines", []) for f in request["files"]})
        data.write()
        cov = coverage.Coverage(data_file=data_file, config_file=False, branch=bool(request.get("branch")))
        cov.load()
        readable = []
        for f in request["files"]:
            source = f["source"]
            try:
                _, statements, excluded, missing, _ = cov.analysis2(source)
            except Exception as e:  # NoSource, NotPython, a syntax error in the source
                out["files"][source] = {"error": "%s: %s" % (type(e).__name__, e)}
                continue
            out["files"][source] = {
                "statements": sorted(statements),
                "excluded": sorted(excluded),
                "missing": sorted(missing),
            }
            readable.append(source)
        if readable:
            report = os.path.join(tmp, "coverage.json")
            cov.json_report(morfs=readable, outfile=report, ignore_errors=True)
            with open(report) as r:
                for name, entry in json.load(r).get("files", {}).items():
                    full = os.path.abspath(name)
                    if full in out["files"] and "summary" in entry:
                        out["files"][full]["summary"] = entry["summary"]
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
