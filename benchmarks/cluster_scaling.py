"""Time of the clustering step alone (no detection, no embedding) as a library grows:
synthetic unit vectors, people of 10 faces each, one face per photo.

    python benchmarks/cluster_scaling.py [--sizes 1000 5000 10000] [--dim 128] [--spread 1.0]

Prints seconds and seconds per 1,000 faces for each size (a first run and an incremental
run adding 10% more faces to the clusters of the first)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def faces(n: int, dim: int, spread: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 10, dim))
    x = np.repeat(centres, 10, axis=0) + rng.normal(scale=spread, size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    from facesearch.config import CLUSTER_THRESHOLD
    from facesearch.gallery.clustering import cluster_faces

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--spread", type=float, default=1.0)
    args = ap.parse_args()
    for n in args.sizes:
        x = faces(n, args.dim, args.spread)
        first = np.arange(n) % 10 < 9
        t = time.perf_counter()
        labels = cluster_faces(x[first], np.flatnonzero(first), CLUSTER_THRESHOLD)
        t_first = time.perf_counter() - t
        ids = {v: k for k, v in enumerate(sorted(set(labels[labels <= -2].tolist())))}
        start = np.full(n, -1)
        start[first] = [ids.get(v, -1) for v in labels.tolist()]
        t = time.perf_counter()
        after = cluster_faces(x, np.arange(n), CLUSTER_THRESHOLD, start)
        t_inc = time.perf_counter() - t
        print(json.dumps({"faces": n, "first_run_faces": int(first.sum()), "first_run_s": round(t_first, 3),
                          "first_run_s_per_1000": round(1000 * t_first / first.sum(), 3),
                          "incremental_s": round(t_inc, 3), "clusters": len(set(after[after >= 0].tolist()))}))


if __name__ == "__main__":
    main()
