"""Run by service.py's /spawn as a child process: covered through the inherited
environment (PYTHONPATH and LIVECOV_PYTHON), with a data file of its own."""

import json


def answer():
    return {"child": 1}


print(json.dumps(answer()))
