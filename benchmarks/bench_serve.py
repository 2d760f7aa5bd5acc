"""`facesearch serve`: warm search latency and throughput over HTTP, beside the cold CLI.

    python benchmarks/bench_serve.py ../shared/data/facecom/val [--db val.db] [--requests 300]

Enrols the folder's clean photos (the 422-photo val gallery) into a temporary DB unless
``--db`` names one, starts ``facesearch serve`` on a free port, and measures, all in this
run on this machine (the clients share its cores with the server):

- warm single-photo search: sequential ``POST /v1/search`` of distorted 224x224 photos
  from one keep-alive client, wall time per request as the client sees it (upload, HTTP,
  decode, detection, alignment, embedding, search, JSON): p50 / p90 / p99;
  the clients are plain ``http.client`` connections sending multipart bodies encoded
  beforehand (``requests`` costs 2.3 ms of CPU a request, taken from the server's cores);
- throughput with 1, 4 and 16 concurrent clients (searches/s, and p50 / p99 latency);
- the same photos through ``Gallery.identify`` in this process (no HTTP): what the
  machine itself gives at that moment, so the server's overhead can be told apart from the
  speed of the machine (a shared VM varies by tens of percent from hour to hour);
- the cold CLI ``facesearch query photo.jpg`` (a new process each time), median of runs.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import requests


# The facesearch beside the interpreter running this script: bench_lean runs it with each venv's python.
_BESIDE_PYTHON = Path(sys.executable).with_name("facesearch")
FACESEARCH = str(_BESIDE_PYTHON) if _BESIDE_PYTHON.exists() else "facesearch"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([FACESEARCH, "serve", "--db", str(db), "--port", str(port), "--log-level", "warning"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).ok:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    proc.kill()
    sys.exit("server did not start")


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one field ``image``, and its content type."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def search(conn: http.client.HTTPConnection, photo: tuple) -> tuple[float, str, float]:
    """(client wall seconds, top-1 identity, server processing ms) of one search."""
    body, content_type, _ = photo
    t = time.perf_counter()
    conn.request("POST", "/v1/search?k=5", body, {"Content-Type": content_type})
    r = conn.getresponse()
    data = r.read()
    wall = time.perf_counter() - t
    if r.status != 200:
        raise RuntimeError(f"{r.status}: {data[:200]!r}")
    answer = json.loads(data)
    return wall, answer["faces"][0]["matches"][0]["identity"], answer["processing_ms"]


def sequential(port: int, photos: list, n: int) -> dict:
    walls, hits, server_ms = [], [], []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(n):
        wall, top, ms = search(conn, photos[i % len(photos)])
        walls.append(wall)
        server_ms.append(ms)
        hits.append(top == photos[i % len(photos)][2])
    conn.close()
    ms = np.array(walls) * 1000
    return {"requests": n, "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()),
            "server_p50_ms": float(np.median(server_ms)), "top1": float(np.mean(hits))}


def concurrent(port: int, photos: list, clients: int, seconds: float) -> dict:
    stop, lock, walls = time.monotonic() + seconds, threading.Lock(), []
    errors = []

    def client(offset: int) -> None:
        i, conn = offset, http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < stop:
            try:
                wall, _, _ = search(conn, photos[i % len(photos)])
            except Exception as e:  # counted, never hidden
                errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            with lock:
                walls.append(wall)
            i += clients
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(c * 37,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    ms = np.array(walls) * 1000
    return {"clients": clients, "searches": len(walls), "seconds": elapsed, "per_s": len(walls) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "errors": len(errors)}


IN_PROCESS = r"""
import json, os, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `facesearch serve` runs
import numpy as np
from facesearch.gallery import Gallery, PhotoBytes
paths = sys.argv[2:]
g = Gallery(sys.argv[1]); g.warm_up()
photos = [PhotoBytes(os.path.basename(p), open(p, "rb").read()) for p in paths]
for p in photos[:20]:
    g.identify([p])
ms = []
for p in photos:
    t = time.perf_counter(); g.identify([p], k=5); ms.append((time.perf_counter() - t) * 1000)
print(json.dumps({"photos": len(ms), "p50_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90))}))
"""


def in_process(db: Path, paths: list[Path]) -> dict:
    """Gallery.identify, one photo at a time, in a fresh process (as the server runs it)."""
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(db), *map(str, paths)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def cold_cli(db: Path, photo: Path, runs: int) -> dict:
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([FACESEARCH, "query", str(photo), "--db", str(db), "--json"], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return {"runs": runs, "median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="FACECOM-layout folder (val)")
    ap.add_argument("--db", type=Path, default=None, help="an existing gallery DB of ROOT (else one is built)")
    ap.add_argument("--requests", type=int, default=300, help="sequential searches timed")
    ap.add_argument("--seconds", type=float, default=20, help="duration of each throughput run")
    ap.add_argument("--cli-runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    paths = sorted(args.root.glob("*/distortion/*.jpg"))
    paths = [paths[i] for i in np.random.default_rng(0).permutation(len(paths))]
    photos = [(*multipart(p.name, p.read_bytes()), p.parent.parent.name) for p in paths]
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "val.db"
            t = time.perf_counter()
            subprocess.run([FACESEARCH, "index", str(args.root), "--db", str(db)], check=True, capture_output=True)
            print(f"indexed {args.root} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        port = free_port()
        server = start_server(db, port, Path(tmp) / "server.log")
        try:
            health = requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=30).json()
            sequential(port, photos[-20:], 20)  # warm-up, not counted
            seq = sequential(port, photos, args.requests)
            conc = [concurrent(port, photos, c, args.seconds) for c in (1, 4, 16)]
        finally:
            server.terminate()
            server.wait(30)
        inproc = in_process(db, paths[:args.requests])
        photo = next(args.root.glob("*/distortion/*_noisy.jpg"))
        cold = cold_cli(db, photo, args.cli_runs) if args.cli_runs else None
    out = {"gallery": {"identities": health["identities"], "photos": health["photos"]}, "sequential": seq,
           "concurrent": conc, "in_process": inproc, "cold_cli": cold, "cpus": os.cpu_count()}
    print(f"gallery: {health['identities']} identities, {health['photos']} photos; {os.cpu_count()} CPUs")
    print(f"warm search, {seq['requests']} sequential requests (224x224 distorted photos, HTTP included): "
          f"p50 {seq['p50_ms']:.1f} ms, p90 {seq['p90_ms']:.1f} ms, p99 {seq['p99_ms']:.1f} ms "
          f"(server-side p50 {seq['server_p50_ms']:.1f} ms); top-1 {seq['top1']:.3f}")
    print(f"the same photos through Gallery.identify in one process (no HTTP): p50 {inproc['p50_ms']:.1f} ms, "
          f"p90 {inproc['p90_ms']:.1f} ms")
    print("| clients | searches/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    for c in conc:
        print(f"| {c['clients']} | {c['per_s']:.1f} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} | {c['errors']} |")
    if cold:
        print(f"cold `facesearch query` (new process): median {cold['median_s']:.2f} s over {cold['runs']} runs "
              f"(min {cold['min_s']:.2f}, max {cold['max_s']:.2f})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
