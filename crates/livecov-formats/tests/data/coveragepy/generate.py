"""Regenerates the coverage.py golden data of livecov-formats' tests/coveragepy.rs.

    python generate.py OUT_DIR

Run it with the Python of a venv holding coverage.py (.ci/install-coveragepy.sh prints
it). For each case it runs the fixture programs in programs/ under the real coverage.py
and writes, in OUT_DIR/<case>/, the data files coverage.py wrote, what `coverage json`
(and `coverage combine` for the parallel and paths cases) made of them, and raw.json:
coverage.py's own reading of each data file through its CoverageData API (lines, arcs,
contexts per line, tracers), which is what livecov must read back exactly.

The tests run it into a temporary directory to cross-check live; running it into this
directory refreshes the committed copies. Standard library and coverage.py only.
"""

import json
import os
import shutil
import subprocess
import sys

import coverage
from coverage.data import CoverageData

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")


def run(args, cwd, env=None):
    full_env = dict(os.environ)
    # Keep the developer's configuration and a live agent out of the fixtures.
    for var in ("COVERAGE_FILE", "COVERAGE_RCFILE", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG", "COVERAGE_CORE"):
        full_env.pop(var, None)
    full_env.update(env or {})
    proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"generate.py: {args} in {cwd} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def cov(*args, cwd, env=None):
    return run([sys.executable, "-m", "coverage", *args], cwd=cwd, env=env)


def raw(data_file):
    """coverage.py's own reading of one data file."""
    data = CoverageData(data_file)
    data.read()
    files = {}
    for path in sorted(data.measured_files()):
        arcs = data.arcs(path)
        files[path] = {
            "lines": sorted(data.lines(path) or []),
            "arcs": sorted(list(a) for a in arcs) if arcs is not None else None,
            "contexts": {str(k): sorted(v) for k, v in sorted(data.contexts_by_lineno(path).items())},
            "tracer": data.file_tracer(path),
        }
    return {
        "has_arcs": data.has_arcs(),
        "contexts": sorted(data.measured_contexts()),
        "files": files,
    }


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")


def fresh(out, case):
    work = os.path.join(out, case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    return work


def simple_case(out, case, program, rc, run_args=(), json_args=()):
    work = fresh(out, case)
    shutil.copy(os.path.join(PROGRAMS, program), work)
    with open(os.path.join(work, ".coveragerc"), "w") as f:
        f.write(rc)
    cov("run", *run_args, program, cwd=work)
    cov("json", "-o", "coverage.json", *json_args, cwd=work)
    write_json(os.path.join(work, "raw.json"), {".coverage": raw(os.path.join(work, ".coverage"))})


def parallel_case(out):
    work = fresh(out, "parallel")
    shutil.copy(os.path.join(PROGRAMS, "multiproc_prog.py"), work)
    with open(os.path.join(work, ".coveragerc"), "w") as f:
        f.write("[run]\nrelative_files = true\nparallel = true\nconcurrency = multiprocessing\n")
    cov("run", "multiproc_prog.py", cwd=work)
    # Out of the way of `coverage json`, which (7.14+) combines and deletes parallel
    # files found beside the data file.
    parts_dir = os.path.join(work, "parts")
    os.makedirs(parts_dir)
    parts = sorted(n for n in os.listdir(work) if n.startswith(".coverage."))
    if len(parts) < 3:
        sys.exit(f"generate.py: expected a data file per process, got {parts}")
    for name in parts:
        os.rename(os.path.join(work, name), os.path.join(parts_dir, name))
    dumps = {name: raw(os.path.join(parts_dir, name)) for name in parts}
    cov("combine", "--keep", "parts", cwd=work)
    cov("json", "-o", "coverage.json", cwd=work)
    dumps[".coverage"] = raw(os.path.join(work, ".coverage"))
    write_json(os.path.join(work, "raw.json"), dumps)


def paths_case(out):
    """Data recorded under a "container" tree, combined on a "local" checkout."""
    work = fresh(out, "paths")
    container = os.path.join(work, "container", "app")
    shutil.copytree(os.path.join(PROGRAMS, "paths", "app"), container)
    with open(os.path.join(container, ".coveragerc"), "w") as f:
        f.write("[run]\nparallel = true\n")
    cov("run", "run.py", cwd=container, env={"PYTHONPATH": os.path.join(container, "src")})
    # Two more inputs written by coverage.py's API: a Windows build agent's paths (mapped
    # by the backslash pattern) and a file no rule maps.
    extra = CoverageData(basename=os.path.join(container, ".coverage"), suffix="winagent.pid7.XAbC12x")
    extra.add_lines({"C:\\build\\src\\pkg\\b.py": [1, 2, 4], "/opt/vendor/lib/zzz.py": [1, 3]})
    extra.write()
    local = os.path.join(work, "local")
    shutil.copytree(os.path.join(PROGRAMS, "paths", "app", "src"), os.path.join(local, "src"))
    with open(os.path.join(local, ".coveragerc"), "w") as f:
        f.write("[paths]\nsource =\n    src/\n    */app/src\n    C:\\build\\src\n")
    parts = sorted(n for n in os.listdir(container) if n.startswith(".coverage."))
    dumps = {name: raw(os.path.join(container, name)) for name in parts}
    cov("combine", "--keep", os.path.join("..", "container", "app"), cwd=local)
    cov("json", "-i", "-o", "combined.json", cwd=local)
    dumps[".coverage"] = raw(os.path.join(local, ".coverage"))
    write_json(os.path.join(work, "raw.json"), dumps)
    # Where coverage.py combined, to turn its absolute results into names relative to it.
    write_json(os.path.join(work, "case.json"), {"local": local, "coverage_version": coverage.__version__})
    # The local checkout keeps only the sources; combine's output is in raw.json.
    os.remove(os.path.join(local, ".coverage"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    simple_case(out, "lines", "lines_prog.py", "[run]\nrelative_files = true\n")
    simple_case(out, "branch", "branch_prog.py", "[run]\nrelative_files = true\nbranch = true\n")
    simple_case(
        out,
        "contexts",
        "contexts_prog.py",
        "[run]\nrelative_files = true\ndynamic_context = test_function\n",
        run_args=("--context=ci",),
        json_args=("--show-contexts",),
    )
    parallel_case(out)
    paths_case(out)


if __name__ == "__main__":
    main()
