"""How the pipeline shares the CPUs: workers, threads per network call and unit size, side by side.

    python benchmarks/pipeline_workers.py ../shared/data/facecom/val [--photos 200] [--rounds 3]

The full pipeline (decode + detect + align + embed, ``Embedder.run`` with the shipped model)
of the ``--photos`` distorted val photos ``bench_lean.py`` times, in one process, under each
arrangement below, the arrangements taking turns for ``--rounds`` rounds (a busy spell of a
shared machine hits them all); the median photos/s of each and its ratio to the shipped one:

- one worker, every CPU per call, units of 64 (one batch at a time);
- two workers, every CPU per call, units of 64 (two batches in flight: the previous release);
- two workers, the CPUs shared out per call (:func:`facesearch.runtime.share_cpus`), units of
  64, 32 and 16 (16: the shipped arrangement), and three workers, units of 16.

Every arrangement gives the same vectors (checked: the largest difference is printed).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from facesearch.encoders import create_encoder
from facesearch.faces import pipeline
from facesearch.runtime import share_cpus, usable_cpus

SHIPPED = ("two workers, CPUs shared", 2, True, 16)
ARRANGEMENTS = [  # (name, workers, share the CPUs, photos per unit)
    ("one worker, every CPU", 1, False, 64),
    ("two workers, every CPU", 2, False, 64),
    ("two workers, CPUs shared", 2, True, 64),
    ("two workers, CPUs shared", 2, True, 32),
    SHIPPED,
    ("three workers, CPUs shared", 3, True, 16),
]


def run(embedder: pipeline.Embedder, paths: list[Path], workers: int, share: bool, unit: int):
    pipeline.WORKERS, pipeline.WORK_UNIT = workers, unit
    pipeline.share_cpus = share_cpus if share else (lambda _: usable_cpus())
    t = time.perf_counter()
    vectors = np.stack([r.vector for r in embedder.run(paths, batch_size=64)])
    return len(paths) / (time.perf_counter() - t), vectors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="FACECOM val (person folders with distortion/)")
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    paths = sorted(args.root.glob("*/distortion/*.jpg"))[::7][:args.photos]
    embedder = pipeline.Embedder(create_encoder("default"))
    list(embedder.run(paths[:40]))  # sessions opened, first calls paid
    speeds: dict[tuple, list[float]] = {a: [] for a in ARRANGEMENTS}
    reference, worst = None, 0.0
    for _ in range(args.rounds):
        for a in ARRANGEMENTS:
            per_s, vectors = run(embedder, paths, *a[1:])
            speeds[a].append(per_s)
            reference = vectors if reference is None else reference
            worst = max(worst, float(np.abs(vectors - reference).max()))
    shipped = statistics.median(speeds[SHIPPED])
    print(f"# Pipeline: how the CPUs are shared ({len(paths)} distorted val photos, {usable_cpus()} CPUs, "
          f"median of {args.rounds} rounds, load average {os.getloadavg()[0]:.1f} at the end)")
    print("| arrangement | threads per call | photos per unit | photos/s | vs shipped |")
    print("|---|---|---|---|---|")
    for a in ARRANGEMENTS:
        name, workers, share, unit = a
        median = statistics.median(speeds[a])
        mark = " (shipped)" if a == SHIPPED else ""
        threads = share_cpus(workers) if share else usable_cpus()
        print(f"| {name}{mark} | {threads} | {unit} | {median:.1f} | {median / shipped:.2f}x |")
    print(f"\nlargest difference between the arrangements' vectors: {worst:.1e}")


if __name__ == "__main__":
    main()
