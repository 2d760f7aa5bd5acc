"""Time of the clustering step alone (no detection, no embedding) as a library grows:
synthetic unit vectors, people of 10 faces each, one face per photo.

    python benchmarks/results.py record cluster_scaling -- python benchmarks/cluster_scaling.py --sizes 1000 5000 10000 20000

Prints a Markdown table: seconds and seconds per 1,000 faces for each size (a first run on
90% of the faces, then an incremental run adding the other 10% to the clusters of the first)."""
from __future__ import annotations

import argparse
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
    print(f"# Clustering alone as the library grows (synthetic {args.dim}-d faces, 10 a person, "
          f"threshold {CLUSTER_THRESHOLD})\n")
    print("| faces | first run: faces | first run: s | s per 1,000 faces | adding 10% more: s | clusters |")
    print("|---|---|---|---|---|---|")
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
        print(f"| {n} | {int(first.sum())} | {t_first:.2f} | {1000 * t_first / first.sum():.2f} | {t_inc:.2f} | "
              f"{len(set(after[after >= 0].tolist()))} |", flush=True)


if __name__ == "__main__":
    main()
