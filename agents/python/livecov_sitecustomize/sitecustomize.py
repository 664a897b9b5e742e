"""livecov: start coverage.py and its coverage server when this interpreter starts.

Python imports a module named ``sitecustomize`` from ``sys.path`` at start-up, so
putting this directory on ``PYTHONPATH`` is enough to load it: no change to the
program or its image. It does nothing unless ``LIVECOV_PYTHON`` is on or
``COVERAGE_PROCESS_START`` names a coverage.py configuration (see README.md).

A program's own ``sitecustomize`` (found further along ``sys.path``) still runs
afterwards, since this one would otherwise hide it.
"""

import os
import sys


def _livecov_enabled():
    value = os.environ.get("LIVECOV_PYTHON", "").strip().lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    return bool(os.environ.get("COVERAGE_PROCESS_START"))


def _livecov_run_next_sitecustomize():
    """Runs the ``sitecustomize`` this file shadows, if there is one."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


if _livecov_enabled():
    try:
        import livecov_agent

        livecov_agent.start()
    except Exception as error:  # never stop the program from starting
        sys.stderr.write("livecov agent: not started: %r\n" % (error,))

try:
    _livecov_run_next_sitecustomize()
except Exception as error:
    sys.stderr.write("livecov agent: the program's own sitecustomize failed: %r\n" % (error,))
