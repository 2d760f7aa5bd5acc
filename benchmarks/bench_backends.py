"""The four storage backends side by side on one FACECOM slice, through the CLI as a user runs it.

    python benchmarks/bench_backends.py ../shared/data/facecom/val [--identities 40] [--postgres URL]

For SQLite + FAISS, PostgreSQL + FAISS, SQLite + Milvus Lite and PostgreSQL + Milvus Lite:
wall time of a cold `facesearch index` of the first N identities (clean photos), of a cold
`facesearch query --json` of one distorted photo per identity, of `facesearch check`, the
top-1 accuracy and whether every backend gave the same top-1; then, in one warm process per
backend, the latency of `Gallery.search` for one query vector (p50 / p99 over the N query
vectors, 20 rounds), with FAISS's OpenMP threads and with one. Without --postgres, a throw-away PostgreSQL server is started with
tests/servers.py (and stopped at the end).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def cli(*args) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "facesearch.cli", *map(str, args)], capture_output=True, text=True)
    return time.perf_counter() - t, r


def search_latency(db: str, queries: list[Path], rounds: int) -> list[float]:
    """p50 / p99 ms of one warm `Gallery.search` call with one query vector, with FAISS's
    default OpenMP threads and then with one thread (``faiss.omp_set_num_threads(1)``)."""
    import faiss
    import numpy as np

    from facesearch.gallery import Gallery

    g = Gallery.open(db)
    vectors = [r.vector for r in g.embedder().run(queries) if hasattr(r, "vector")]
    g.search(vectors[0][None], 5)  # warm: index loaded, collection opened
    out, default_threads = [], faiss.omp_get_max_threads()
    for threads in (default_threads, 1):
        faiss.omp_set_num_threads(threads)
        times = []
        for _ in range(rounds):
            for v in vectors:
                t = time.perf_counter()
                g.search(v[None], 5)
                times.append((time.perf_counter() - t) * 1000)
        out += [float(np.percentile(times, 50)), float(np.percentile(times, 99))]
    faiss.omp_set_num_threads(default_threads)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="a FACECOM split (person folders with distortion/)")
    ap.add_argument("--identities", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--postgres", default=None, help="a server URL whose databases may be created (default: "
                    "start a throw-away server)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    root = work / "gallery"
    root.mkdir()
    people = sorted(p for p in args.data.iterdir() if p.is_dir())[:args.identities]
    queries = []
    for i, p in enumerate(people):
        (root / p.name).symlink_to(p.resolve())
        distorted = sorted((root / p.name / "distortion").glob("*.jpg"))
        queries.append(distorted[i % len(distorted)])
    server = None
    if args.postgres is None:
        from tests.servers import start_postgres

        server = start_postgres()
    import psycopg

    base = args.postgres or server.url

    def new_pg(name: str) -> str:
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return base.rsplit("/", 1)[0] + "/" + name

    os.environ.setdefault("FACESEARCH_INDEX_CACHE", str(work / "index-cache"))
    rows, answers = [], {}
    try:
        for name in ("sqlite-faiss", "postgres-faiss", "sqlite-milvus", "postgres-milvus"):
            database, vectors = name.split("-")
            db = new_pg(f"bench_{vectors}") if database == "postgres" else str(work / f"{vectors}.db")
            extra = ["--vectors", f"milvus:{work / (database + '-vectors.db')}"] if vectors == "milvus" else []
            t_index, r = cli("index", root, "--db", db, "--json", *extra)
            assert r.returncode == 0, r.stderr
            t_query, r = cli("query", *queries, "--db", db, "--json")
            assert r.returncode == 0, r.stderr
            top1 = [json.loads(x)["matches"][0]["identity"] for x in r.stdout.splitlines()]
            answers[name] = top1
            t_check, r = cli("check", "--db", db)
            assert r.returncode == 0, r.stderr
            latency = search_latency(db, queries, args.rounds)
            right = sum(t == q.parent.parent.name for t, q in zip(top1, queries)) / len(queries)
            rows.append((name, t_index, t_query, t_check, *latency, right))
            print(f"{name}: done", file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    n_photos = sum(1 for p in people for f in p.glob("*.jpg"))
    print(f"\n{len(people)} identities, {n_photos} photos enrolled, {len(queries)} distorted queries\n")
    print(f"load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)\n")
    print("| backend | index s | query s (all) | check s | search p50 / p99 ms | same, 1 FAISS thread | top-1 |")
    print("|---|---|---|---|---|---|---|")
    for name, ti, tq, tc, p50, p99, p50_1, p99_1, right in rows:
        print(f"| {name} | {ti:.2f} | {tq:.2f} | {tc:.2f} | {p50:.3f} / {p99:.3f} | {p50_1:.3f} / {p99_1:.3f} "
              f"| {right:.3f} |")
    same = all(a == answers["sqlite-faiss"] for a in answers.values())
    print(f"\nsame top-1 on every backend: {same}")


if __name__ == "__main__":
    main()
