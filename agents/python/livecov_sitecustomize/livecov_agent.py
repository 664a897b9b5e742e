"""livecov Python agent: a coverage server inside a process measured by coverage.py.

Standard library plus coverage.py (5.0 or later; 7.10+ recommended). Started by the
``sitecustomize`` beside this file. It serves the coverage-server protocol that
livecov's Go agent speaks (``GET /health``, ``GET /coverage``, ``POST /coverage/reset``,
the ``X-Art-Coverage-*`` headers, the first free port from 53700), pushes snapshots to
``livecov collect --listen`` when ``LIVECOV_PUSH_URL`` is set, and saves the data file
on SIGTERM. See README.md beside this directory for the environment and the protocol.

The agent must not disturb the program: its threads are started with ``_thread`` (so
coverage.py's ``threading.settrace`` hook does not trace them), they never keep the
interpreter alive, every failure is logged and swallowed, and the program's signal
handlers and shutdown run as they would without it.
"""

import _thread
import atexit
import base64
import contextlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PROTOCOL_AGENT = "python/1"
DEFAULT_PORT = 53700
PORTS_TRIED = 50  # 53700-53749, as the Go agent; scanners look at 53700-53799
DEFAULT_PUSH_INTERVAL = 60.0
PUSH_TIMEOUT = 30.0
EXIT_PUSH_BUDGET = 5.0
REQUEST_TIMEOUT = 10.0

_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
_agent = None


def _log(message):
    try:
        sys.stderr.write("livecov agent: %s\n" % message)
        sys.stderr.flush()
    except Exception:
        pass


def _off(value):
    return (value or "").strip().lower() in ("0", "off", "false", "no")


def _on(value):
    return (value or "").strip().lower() in ("1", "on", "true", "yes")


def parse_duration(text):
    """Seconds from ``60``, ``60s``, ``500ms``, ``2m`` or ``1h``; ValueError otherwise."""
    text = text.strip().lower()
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


def backoff(failures, interval):
    """The wait before retry number ``failures``: 1s, 2s, 4s ... capped at ``interval``."""
    return min(interval, 2.0 ** max(failures - 1, 0))


def start():
    """Starts coverage.py (unless it already runs) and the agent, once per process.

    Returns the agent, or None when it is switched off or coverage.py is missing.
    """
    global _agent
    if _agent is not None and _agent.pid == os.getpid():
        return _agent
    if _off(os.environ.get("LIVECOV_AGENT")):
        return None
    cov = _start_coverage()
    if cov is None:
        return None
    _agent = Agent(cov)
    _agent.run()
    return _agent


def _start_coverage():
    try:
        import coverage
    except ImportError:
        _log(
            "coverage.py is not importable (%s); install it in the program's environment "
            "or put a `pip install --target DIR coverage` on PYTHONPATH" % sys.executable
        )
        return None
    cov = coverage.Coverage.current()
    if cov is not None:
        return cov  # started by coverage's own .pth hook or `coverage run`
    if os.environ.get("COVERAGE_PROCESS_START") or os.environ.get("COVERAGE_PROCESS_CONFIG"):
        cov = coverage.process_startup()
        return cov or coverage.Coverage.current()
    config = os.environ.get("LIVECOV_COVERAGE_RC") or True
    source = [s for s in os.environ.get("LIVECOV_SOURCE", "").split(",") if s]
    cov = coverage.Coverage(
        data_suffix=True,  # one file per process, so processes never overwrite each other
        config_file=config,
        source=source or None,
    )
    omit = list(cov.get_option("run:omit") or [])
    cov.set_option("run:omit", omit + [os.path.join(_AGENT_DIR, "*")])
    cov.start()
    return cov


def _at_exit():
    # Registered after coverage started, so it runs before coverage's own atexit work.
    agent = _agent
    if agent is not None and agent.pid == os.getpid():
        agent.final("exit")


class Agent:
    """The running agent of one process."""

    def __init__(self, cov):
        self.cov = cov
        self.pid = os.getpid()
        # Serialises saves, snapshots and resets: a reset never lands inside a snapshot.
        self.lock = threading.RLock()
        self.finished = False
        self.headers = identity_headers(self.pid)
        self.push_url = os.environ.get("LIVECOV_PUSH_URL", "")
        self.token_file = os.environ.get("LIVECOV_TOKEN_FILE", "")
        self.push_interval = DEFAULT_PUSH_INTERVAL
        self.server = None
        self.address = None
        self.previous_handlers = {}

    # --- start-up ---------------------------------------------------------------

    def run(self):
        atexit.register(_at_exit)
        if not _off(os.environ.get("LIVECOV_SERVE")):
            self.serve()
        if self.push_url:
            interval = DEFAULT_PUSH_INTERVAL
            value = os.environ.get("LIVECOV_PUSH_INTERVAL")
            if value:
                try:
                    interval = parse_duration(value)
                    if interval <= 0:
                        raise ValueError(value)
                except ValueError:
                    interval = DEFAULT_PUSH_INTERVAL
                    _log(
                        "ignoring LIVECOV_PUSH_INTERVAL=%r (want a duration such as 60s); "
                        "using %gs" % (value, interval)
                    )
            self.push_interval = interval
            _thread.start_new_thread(self.push_loop, (interval,))
        if not _off(os.environ.get("LIVECOV_SIGNALS")):
            self.watch_signals()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork)

    # --- snapshots --------------------------------------------------------------

    def snapshot(self):
        """Saves the data file and returns the snapshot body (a dict)."""
        with self.lock:
            self.cov.save()
            data = self.cov.get_data()
            tmp = tempfile.mkdtemp(prefix="livecov-agent-")
            try:
                return self._snapshot_of(data, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def _snapshot_of(self, data, tmp):
        import coverage

        # A copy of this save, so the report and the bytes sent are of the same data
        # even while the program goes on running.
        copy_path = os.path.join(tmp, ".coverage")
        copy = coverage.CoverageData(basename=copy_path)
        copy.update(data)
        if not os.path.exists(copy_path):
            # Nothing measured yet: still a valid, empty data file of the right kind.
            if self.cov.get_option("run:branch"):
                copy.add_arcs({})
            else:
                copy.add_lines({})
        copy.close()
        _drop_agent_files(copy_path)
        with open(copy_path, "rb") as f:
            data_bytes = f.read()
        report = None
        report_error = ""
        try:
            report = self._json_report(copy_path, os.path.join(tmp, "coverage.json"))
        except Exception as error:  # statements unknown: the data file still goes out
            report_error = "%s: %s" % (type(error).__name__, error)
        body = {
            "language": "python",
            "data_filename": os.path.basename(data.data_filename()),
            "data": base64.b64encode(data_bytes).decode("ascii"),
            "report_json": base64.b64encode(report).decode("ascii") if report else "",
            "coverage_version": coverage.__version__,
            "timestamp": time.time_ns() if hasattr(time, "time_ns") else int(time.time() * 1e9),
        }
        if report_error:
            body["report_error"] = report_error
        root = os.environ.get("LIVECOV_SOURCE_ROOT")
        if root:
            body["source_root"] = root
        return body

    def _json_report(self, data_path, out_path):
        """``coverage json`` of the copied data, with the running process's report options."""
        import coverage

        reporter = coverage.Coverage(data_file=data_path, config_file=False)
        for option in (
            "run:relative_files",
            "report:exclude_lines",
            "report:exclude_also",
            "report:partial_branches",
            "report:partial_also",
            "report:include",
            "report:omit",
            "report:ignore_errors",
            "report:precision",
        ):
            try:
                reporter.set_option(option, self.cov.get_option(option))
            except Exception:
                pass  # an option this coverage.py version does not have
        omit = list(reporter.get_option("report:omit") or [])
        reporter.set_option("report:omit", omit + [os.path.join(_AGENT_DIR, "*")])
        reporter.load()
        with contextlib.redirect_stdout(io.StringIO()):
            reporter.json_report(outfile=out_path)
        with open(out_path, "rb") as f:
            return f.read()

    def snapshot_json(self):
        return (json.dumps(self.snapshot(), sort_keys=True) + "\n").encode("utf-8")

    def reset(self):
        """Forgets what was measured so far; the data file starts again empty."""
        with self.lock:
            data = self.cov.get_data()  # moves the tracers' buffers into the data first
            data.erase()
            monitoring = getattr(sys, "monitoring", None)
            if monitoring is not None:
                # The sys.monitoring core disables each line's event after it fires once.
                monitoring.restart_events()
            return time.time_ns() if hasattr(time, "time_ns") else int(time.time() * 1e9)

    # --- HTTP server ------------------------------------------------------------

    def serve(self):
        start_port = DEFAULT_PORT
        value = os.environ.get("COVERAGE_PORT")
        if value:
            try:
                start_port = int(value)
                if not 0 < start_port < 65536:
                    raise ValueError(value)
            except ValueError:
                start_port = DEFAULT_PORT
                _log("ignoring COVERAGE_PORT=%r (want a port number); starting at %d" % (value, start_port))
        host = os.environ.get("LIVECOV_LISTEN_HOST", "")
        # Every interface, like the Go agent: IPv6 with IPv4 mapped, or IPv4 alone where
        # IPv6 is off (many containers).
        hosts = [host] if host else ["::", "0.0.0.0"]
        handler = _make_handler(self)
        for port in range(start_port, min(start_port + PORTS_TRIED, 65536)):
            for candidate in hosts:
                try:
                    self.server = _Server(candidate, port, handler)
                    break
                except OSError:
                    continue
            if self.server is not None:
                break
        if self.server is None:
            _log(
                "no free port in %d-%d; not serving (push mode, if set, still works)"
                % (start_port, start_port + PORTS_TRIED - 1)
            )
            return
        address = self.server.socket.getsockname()
        shown = "[%s]" % address[0] if ":" in address[0] else address[0]
        self.address = "%s:%d" % (shown, address[1])
        _log("serving coverage on %s (pid %d)" % (self.address, self.pid))
        _thread.start_new_thread(self._serve_forever, ())

    def _serve_forever(self):
        try:
            self.server.serve_forever(poll_interval=0.5)
        except Exception as error:
            _log("coverage server stopped: %r" % (error,))

    # --- push -------------------------------------------------------------------

    def push_loop(self, interval):
        if not self.token_file:
            _log("LIVECOV_PUSH_URL is set without LIVECOV_TOKEN_FILE: pushing without a token")
        _log("pushing snapshots to %s every %gs" % (self.push_url, interval))
        failures = 0
        last_error = ""
        reason = "interval"
        wait = min(1.0, interval)  # the receiver learns of the process at once
        while True:
            time.sleep(wait)
            if self.finished:
                return
            try:
                self.push(reason, PUSH_TIMEOUT)
            except Exception as error:
                failures += 1
                reason = "retry"
                wait = backoff(failures, interval)
                message = str(error)
                if message != last_error or failures % 20 == 0:
                    _log(
                        "push to %s failed (attempt %d, retrying with backoff): %s"
                        % (self.push_url, failures, message)
                    )
                    last_error = message
                continue
            if failures:
                _log("push to %s works again after %d failed attempts" % (self.push_url, failures))
            failures, last_error, reason, wait = 0, "", "interval", interval

    def push(self, reason, timeout):
        body = self.snapshot_json()
        request = urllib.request.Request(self.push_url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        for name, value in self.headers:
            request.add_header(name, value)
        request.add_header("X-Livecov-Push-Reason", reason)
        if self.token_file:
            # Read on every push: mounted tokens rotate.
            try:
                with open(self.token_file, "r") as f:
                    token = f.read().strip()
            except OSError as error:
                raise RuntimeError("reading the token (LIVECOV_TOKEN_FILE): %s" % error)
            request.add_header("Authorization", "Bearer " + token)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler())
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(512)
        except urllib.error.HTTPError as error:
            detail = error.read(512).decode("utf-8", "replace").strip()
            raise RuntimeError("%d %s: %s" % (error.code, error.reason, detail))

    # --- exit and signals -------------------------------------------------------

    def final(self, reason):
        """Saves the data file and makes the last push; once per process."""
        with self.lock:
            if self.finished:
                return
            self.finished = True
            try:
                self.cov.save()
            except Exception as error:
                _log("saving coverage failed: %r" % (error,))
            if self.push_url:
                deadline = time.monotonic() + EXIT_PUSH_BUDGET
                for attempt in (1, 2):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        self.push(reason, left)
                        break
                    except Exception as error:
                        _log("final push to %s failed (attempt %d): %s" % (self.push_url, attempt, error))
                        time.sleep(0.2)

    def watch_signals(self):
        """Saves on SIGTERM (and SIGINT when it would kill) without taking the signal away.

        Only a signal whose disposition would end the process without Python's
        shutdown (SIG_DFL, or coverage.py's own SIGTERM handler, which re-raises) gets
        the agent's handler; a program that installs its own handler later replaces it
        and exits through its shutdown, where the atexit save runs. SIGINT's usual
        handler raises KeyboardInterrupt, which also ends in atexit; ignored signals are
        left ignored.
        """
        if threading.current_thread() is not threading.main_thread():
            return  # signal.signal works in the main thread only
        for signum in (signal.SIGTERM, signal.SIGINT):
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN or current is None:
                continue
            if current is signal.default_int_handler:
                continue
            if callable(current) and getattr(current, "__module__", "").split(".")[0] != "coverage":
                continue  # someone else's handler: their shutdown ends in atexit
            self.previous_handlers[signum] = current
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        previous = self.previous_handlers.get(signum, signal.SIG_DFL)
        # In a forked child the handler is the parent's; the child's agent does the work.
        agent = _agent if _agent is not None and _agent.pid == os.getpid() else self
        agent.final("exit")
        _log("%s: saved coverage into %s" % (signal.Signals(signum).name, _data_file_name(self.cov)))
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        else:
            os.kill(os.getpid(), signum)  # dies of the signal, as without the agent


def _drop_agent_files(path):
    """Removes the agent's own files from a copied data file.

    When coverage.py started before the agent (``COVERAGE_PROCESS_START``), it measured
    the agent's import; those lines are the agent's, not the program's.
    """
    prefix = os.path.join(_AGENT_DIR, "")
    con = sqlite3.connect(path)
    try:
        ids = [
            row[0]
            for row in con.execute("select id, path from file")
            if row[1].startswith(prefix)
        ]
        for table, column in (("line_bits", "file_id"), ("arc", "file_id"), ("tracer", "file_id"), ("file", "id")):
            con.executemany("delete from %s where %s = ?" % (table, column), [(i,) for i in ids])
        con.commit()
    finally:
        con.close()


def _data_file_name(cov):
    try:
        return cov.get_data().data_filename()
    except Exception:
        return "the data file"


def _after_fork():
    # A forked child keeps coverage measuring (coverage.py moves it to a new data file);
    # it needs its own server and push thread with its own pid.
    global _agent
    parent = _agent
    _agent = None
    if parent is None:
        return
    try:
        child = Agent(parent.cov)
        child.push_interval = parent.push_interval
        _agent = child
        if not _off(os.environ.get("LIVECOV_SERVE")):
            child.serve()
        if child.push_url:
            _thread.start_new_thread(child.push_loop, (child.push_interval,))
    except Exception as error:
        _log("after fork: %r" % (error,))


def identity_headers(pid):
    binary = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not binary or binary == "-c":
        binary = os.path.basename(sys.executable) or "python"
    headers = [
        ("X-Art-Coverage-Server", "1"),
        ("X-Art-Coverage-Pid", str(pid)),
        ("X-Art-Coverage-Binary", binary),
        ("X-Art-Coverage-Language", "python"),
    ]
    for name, env, fallback in (
        ("X-Art-Coverage-Source-Commit", "SOURCE_GIT_COMMIT", ""),
        ("X-Art-Coverage-Source-Url", "SOURCE_GIT_URL", ""),
        ("X-Art-Coverage-Software-Group", "SOFTWARE_GROUP", "__doozer_group"),
        ("X-Art-Coverage-Software-Key", "SOFTWARE_KEY", "__doozer_key"),
    ):
        value = os.environ.get(env) or (os.environ.get(fallback) if fallback else "")
        if value:
            headers.append((name, value))
    headers.append(("X-Livecov-Agent", PROTOCOL_AGENT))
    return headers


class _Server(http.server.HTTPServer):
    """One request at a time, in the agent's own thread (no per-request threads)."""

    def __init__(self, host, port, handler):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        http.server.HTTPServer.__init__(self, (host, port), handler, bind_and_activate=False)
        try:
            if self.address_family == socket.AF_INET6 and host == "::":
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.server_bind()
            self.server_activate()
        except Exception:
            self.server_close()
            raise

    def server_bind(self):
        # No SO_REUSEADDR: a port another process listens on must count as taken.
        self.allow_reuse_address = False
        http.server.HTTPServer.server_bind(self)

    def handle_error(self, request, client_address):
        pass  # a client that went away is not the program's problem


def _make_handler(agent):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "livecov-agent"
        protocol_version = "HTTP/1.1"
        timeout = REQUEST_TIMEOUT

        def log_message(self, format, *args):
            pass  # the program's stderr is not ours to fill

        def _path(self):
            return self.path.split("?", 1)[0]

        def _send(self, status, content_type, body, extra=()):
            self.send_response(status)
            for name, value in agent.headers:
                self.send_header(name, value)
            for name, value in extra:
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            # One connection per request: the server answers one connection at a time,
            # so a client keeping an idle connection open (a collector's pool) would hold
            # every other client off until the connection's timeout.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _text(self, status, text, extra=()):
            self._send(status, "text/plain; charset=utf-8", text.encode("utf-8"), extra)

        def do_HEAD(self):
            known = self._path() in ("/health", "/coverage", "/coverage/reset")
            self._send(200 if known else 404, "text/plain; charset=utf-8", b"")

        def do_GET(self):
            path = self._path()
            if path == "/health":
                self._text(200, "coverage server healthy")
            elif path == "/coverage":
                try:
                    body = agent.snapshot_json()
                except Exception as error:
                    self._text(500, "Failed to collect coverage: %r\n" % (error,))
                    return
                self._send(200, "application/json", body)
            elif path == "/coverage/reset":
                self._text(405, "method not allowed; use POST\n", [("Allow", "POST")])
            else:
                self._text(404, "404 page not found\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if 0 < length <= 1 << 16:
                self.rfile.read(length)
            path = self._path()
            if path == "/coverage/reset":
                try:
                    stamp = agent.reset()
                except Exception as error:
                    self._text(500, "reset failed: %r\n" % (error,))
                    return
                body = json.dumps({"reset": True, "timestamp": stamp}) + "\n"
                self._send(200, "application/json", body.encode("utf-8"))
            elif path == "/coverage":
                self.do_GET()
            elif path == "/health":
                self._text(405, "method not allowed; use GET, HEAD\n", [("Allow", "GET, HEAD")])
            else:
                self._text(404, "404 page not found\n")

    return Handler
