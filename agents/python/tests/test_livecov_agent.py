"""Unit tests of the Python agent, with the real coverage.py (standard library otherwise).

Run: python -m unittest discover -s agents/python/tests (coverage.py importable; the
Rust test crates/livecov/tests/py_agent.rs runs them with the venv of
.ci/install-coveragepy.sh).
"""

import base64
import http.client
import json
import os
import socket
import sqlite3
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "livecov_sitecustomize"))

import coverage  # noqa: E402
import livecov_agent  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Helpers(unittest.TestCase):
    def test_durations(self):
        self.assertEqual(livecov_agent.parse_duration("60"), 60.0)
        self.assertEqual(livecov_agent.parse_duration("500ms"), 0.5)
        self.assertEqual(livecov_agent.parse_duration("2m"), 120.0)
        self.assertEqual(livecov_agent.parse_duration(" 3s "), 3.0)
        with self.assertRaises(ValueError):
            livecov_agent.parse_duration("soon")

    def test_backoff_doubles_up_to_the_interval(self):
        waits = [livecov_agent.backoff(n, 10.0) for n in range(1, 7)]
        self.assertEqual(waits, [1.0, 2.0, 4.0, 8.0, 10.0, 10.0])

    def test_identity_headers(self):
        old = dict(os.environ)
        try:
            os.environ["SOURCE_GIT_COMMIT"] = "abc123"
            os.environ.pop("SOFTWARE_GROUP", None)
            os.environ["__doozer_group"] = "grp"
            headers = dict(livecov_agent.identity_headers(42))
        finally:
            os.environ.clear()
            os.environ.update(old)
        self.assertEqual(headers["X-Art-Coverage-Server"], "1")
        self.assertEqual(headers["X-Art-Coverage-Pid"], "42")
        self.assertEqual(headers["X-Art-Coverage-Language"], "python")
        self.assertEqual(headers["X-Art-Coverage-Source-Commit"], "abc123")
        self.assertEqual(headers["X-Art-Coverage-Software-Group"], "grp")
        self.assertNotIn("X-Art-Coverage-Source-Url", headers)


class Served(unittest.TestCase):
    """An agent over a Coverage measuring a module of the test's own."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.old_env = dict(os.environ)
        self.old_cwd = os.getcwd()
        os.chdir(self.tmp.name)
        with open("measured.py", "w") as f:
            f.write(textwrap.dedent(
                """\
                def one(x):
                    if x:
                        return 1
                    return 0


                def two():
                    return 2
                """
            ))
        sys.path.insert(0, self.tmp.name)
        self.port = free_port()
        os.environ["COVERAGE_PORT"] = str(self.port)
        os.environ["LIVECOV_LISTEN_HOST"] = "127.0.0.1"
        self.cov = coverage.Coverage(
            data_file=os.path.join(self.tmp.name, ".coverage"),
            data_suffix=True,
            config_file=False,
            source=[self.tmp.name],
        )
        self.cov.start()
        import measured

        self.measured = measured
        self.agent = livecov_agent.Agent(self.cov)
        self.agent.serve()
        self.assertIsNotNone(self.agent.server, "the agent serves")

    def tearDown(self):
        self.cov.stop()
        self.agent.server.shutdown()
        self.agent.server.server_close()
        sys.modules.pop("measured", None)
        sys.path.remove(self.tmp.name)
        os.chdir(self.old_cwd)
        os.environ.clear()
        os.environ.update(self.old_env)
        self.tmp.cleanup()

    def request(self, method, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp, body

    def lines(self):
        resp, body = self.request("GET", "/coverage")
        self.assertEqual(resp.status, 200, body)
        snap = json.loads(body)
        self.assertEqual(snap["language"], "python")
        path = os.path.join(self.tmp.name, "snap.sqlite")
        with open(path, "wb") as f:
            f.write(base64.b64decode(snap["data"]))
        data = coverage.CoverageData(path)
        data.read()
        report = json.loads(base64.b64decode(snap["report_json"]))
        got = {os.path.basename(p): sorted(data.lines(p)) for p in data.measured_files()}
        os.remove(path)
        return got, report

    def test_an_idle_kept_alive_connection_does_not_hold_off_other_clients(self):
        # The server answers one connection at a time: were a connection kept open after
        # its response (HTTP/1.1 keep-alive, as a collector's connection pool does), the
        # next client would wait for that connection's 10 s timeout.
        held = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        held.request("GET", "/health")
        resp = held.getresponse()
        resp.read()
        self.assertEqual(resp.getheader("Connection"), "close")
        # ... and the server has let go of it: the next read on it sees the close.
        self.assertEqual(held.sock.recv(1) if held.sock else b"", b"")
        other = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        other.request("POST", "/coverage/reset", body=b"")
        self.assertEqual(other.getresponse().status, 200)
        other.close()
        held.close()

    def test_routes_and_headers(self):
        resp, body = self.request("GET", "/health")
        self.assertEqual((resp.status, body), (200, b"coverage server healthy"))
        self.assertEqual(resp.getheader("X-Art-Coverage-Server"), "1")
        self.assertEqual(resp.getheader("X-Art-Coverage-Pid"), str(os.getpid()))
        self.assertEqual(resp.getheader("X-Art-Coverage-Language"), "python")
        resp, body = self.request("HEAD", "/coverage")
        self.assertEqual((resp.status, body), (200, b""))
        self.assertEqual(self.request("GET", "/nothing")[0].status, 404)
        self.assertEqual(self.request("HEAD", "/nothing")[0].status, 404)
        resp, _ = self.request("GET", "/coverage/reset")
        self.assertEqual((resp.status, resp.getheader("Allow")), (405, "POST"))

    def test_snapshot_holds_the_data_of_a_save_and_its_report(self):
        self.measured.one(True)
        lines, report = self.lines()
        self.assertEqual(lines["measured.py"], [1, 2, 3, 7])
        self.assertEqual(report["files"]["measured.py"]["executed_lines"], [1, 2, 3, 7])
        self.assertEqual(report["files"]["measured.py"]["missing_lines"], [4, 8])
        self.assertEqual(report["totals"]["num_statements"], 6)
        # The program's own data file was saved too.
        saved = [n for n in os.listdir(self.tmp.name) if n.startswith(".coverage.")]
        self.assertEqual(len(saved), 1, saved)
        con = sqlite3.connect(os.path.join(self.tmp.name, saved[0]))
        self.assertEqual(con.execute("select version from coverage_schema").fetchone(), (7,))
        con.close()

    def test_reset_forgets_what_ran_before(self):
        self.measured.one(False)
        before, _ = self.lines()
        self.assertEqual(before["measured.py"], [1, 2, 4, 7])
        resp, body = self.request("POST", "/coverage/reset")
        self.assertEqual(resp.status, 200, body)
        self.assertTrue(json.loads(body)["reset"])
        empty, report = self.lines()
        # coverage.py still lists the source files it knows of, with no line run.
        self.assertEqual({name: lines for name, lines in empty.items() if lines}, {})
        self.assertEqual(report["totals"]["covered_lines"], 0)
        self.measured.two()
        after, _ = self.lines()
        self.assertEqual(after["measured.py"], [8])


if __name__ == "__main__":
    unittest.main()
