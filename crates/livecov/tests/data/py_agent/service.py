"""A small HTTP service for the Python agent's tests (standard library only).

GET /work?n=N runs a loop whose branches depend on N; GET /other runs code nothing else
runs; GET /spawn runs child.py in a child Python process (covered through the
inherited environment). It prints "fixture: listening on HOST:PORT" once it accepts requests.
FIXTURE_SIGNALS=own installs a SIGTERM handler that shuts the server down and returns
from main (the program's own graceful shutdown); otherwise SIGTERM has its default.
"""

import http.server
import os
import signal
import subprocess
import sys
import threading
import urllib.parse


def work(n):
    total = 0
    for i in range(n):
        if i % 2 == 0:
            total += i
        else:
            total -= 1
    if total > 10:
        return "big %d" % total
    return "small %d" % total


def other():
    words = ["alpha", "beta"]
    return ",".join(w.upper() for w in words)


def spawn():
    out = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")],
        capture_output=True,
        check=True,
    )
    return out.stdout.decode().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/work":
            body = work(int(query.get("n", ["1"])[0]))
        elif url.path == "/other":
            body = other()
        elif url.path == "/spawn":
            body = spawn()
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if os.environ.get("FIXTURE_SIGNALS") == "own":

        def stop(signum, frame):
            print("fixture: shutting down", flush=True)
            threading.Thread(target=server.shutdown).start()

        signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print("fixture: listening on %s:%d" % (host, port), flush=True)
    server.serve_forever()
    server.server_close()
    print("fixture: stopped", flush=True)


if __name__ == "__main__":
    main()
