"""What writing results as JSON costs a cold `facesearch query`, two checkouts side by side.

    python benchmarks/bench_json_cost.py GALLERY_DB PHOTO --before /work/main --after . [--runs 10]

For each checkout, taking turns: ``facesearch query PHOTO --db GALLERY_DB`` with and without
``--json``, a new process each run; the median and the least of the wall time and of the CPU
time (user + sys, the process and its threads: less moved by other load than wall time).
Then, in one process of each checkout that has loaded what a query loads, the CPU time of
the first result written as JSON (``as_dict()``: pydantic and the records load there).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FIRST_JSON = r"""
import time
import numpy, facesearch.cli, facesearch.gallery, facesearch.faces.mtcnn  # what a query loads
from facesearch.types import AlignedFace, FaceQuality, Match, QueryResult

face = AlignedFace(numpy.zeros((4, 4, 3), numpy.uint8), True, 1, (1, 2, 3, 4), 0.9, quality=FaceQuality(0.8, True))
r = QueryResult("q.jpg", [Match("a", 0.9, "p"), Match("b", 0.3, "p")], True, face)
c = time.process_time()
r.as_dict()
print(1e3 * (time.process_time() - c))
"""


def run(tree: Path, args: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                   capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("photo", type=Path)
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    sides = {"before": a.before.resolve(), "after": a.after.resolve()}
    query = ["-m", "facesearch.cli", "query", str(a.photo.resolve()), "--db", str(a.db.resolve())]
    kinds = {"query": query, "query --json": [*query, "--json"]}
    for tree in sides.values():  # untimed: the OS file cache warm for both
        run(tree, kinds["query --json"])
    got = {(s, k): [] for s in sides for k in kinds}
    first = {s: [] for s in sides}
    for _ in range(a.runs):
        for side, tree in sides.items():
            for kind, args in kinds.items():
                got[(side, kind)].append(run(tree, args))
            out = subprocess.run([sys.executable, "-c", FIRST_JSON], cwd=tree, capture_output=True, text=True,
                                 env={**os.environ, "PYTHONPATH": str(tree)}, check=True)
            first[side].append(float(out.stdout.strip().splitlines()[-1]))
    print(f"| checkout | command | wall median | wall least | CPU median | CPU least |  ({a.runs} runs each)")
    print("|---|---|---|---|---|---|")
    for (side, kind), v in got.items():
        wall, cpu = [x for x, _ in v], [y for _, y in v]
        print(f"| {side} | {kind} | {statistics.median(wall):.3f} s | {min(wall):.3f} s "
              f"| {statistics.median(cpu):.3f} s | {min(cpu):.3f} s |")
    for side, v in first.items():
        print(f"{side}: first as_dict() in a loaded process: CPU median {statistics.median(v):.1f} ms, "
              f"least {min(v):.1f} ms")


if __name__ == "__main__":
    main()
