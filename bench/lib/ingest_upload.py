#!/usr/bin/env python3
"""Uploads a gen-go-cluster.sh data set to `livecov serve`'s ingest, file by file
(PUT /api/ingest/NAME/files/DIR/FILE, keep-alive connections, THREADS at once), then
asks for the compile (POST /api/ingest/NAME/compile) and prints the times as JSON:
upload seconds, compile seconds, total, files, bytes. Standard library only."""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def main():
    addr, name, data, token_file = sys.argv[1:5]
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    token = open(token_file).read().strip()
    host, port = addr.rsplit(":", 1)
    files = []
    for d in sorted(os.listdir(data)):
        p = os.path.join(data, d)
        if not os.path.isdir(p):
            continue
        for f in sorted(os.listdir(p)):
            files.append((f"{d}/{f}", os.path.join(p, f)))
    blobs = [(rel, open(path, "rb").read()) for rel, path in files]
    headers = {"Authorization": f"Bearer {token}"}
    failures = []
    lock = threading.Lock()
    chunks = [blobs[i::threads] for i in range(threads)]

    def upload(part):
        c = http.client.HTTPConnection(host, int(port), timeout=120)
        for rel, body in part:
            c.request("PUT", f"/api/ingest/{name}/files/" + urllib.parse.quote(rel), body=body, headers=headers)
            r = c.getresponse()
            r.read()
            if r.status not in (200, 201):
                with lock:
                    failures.append((rel, r.status))
        c.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=upload, args=(p,)) for p in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t1 = time.monotonic()
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    c.request("POST", f"/api/ingest/{name}/compile", body=b"", headers=headers)
    r = c.getresponse()
    summary = r.read().decode()
    t2 = time.monotonic()
    if failures or r.status != 200:
        print(json.dumps({"failures": failures[:10], "compile_status": r.status, "compile": summary}))
        sys.exit(1)
    print(json.dumps({
        "files": len(blobs),
        "bytes": sum(len(b) for _, b in blobs),
        "upload_s": round(t1 - t0, 3),
        "compile_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
        "compile": json.loads(summary),
    }))


if __name__ == "__main__":
    main()
