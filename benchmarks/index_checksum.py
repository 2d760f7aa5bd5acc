"""What the index file's checksum (issue 23 row 3) costs at load: VectorIndex.load of one
flat index file, with its sha256 verified and without (the same file, its header's
checksum removed), side by side. Synthetic unit vectors; no data set needed.

    python benchmarks/index_checksum.py --n 100000 --dim 512
"""
from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from facesearch.files import read_framed, write_framed
from facesearch.gallery.index import MAGIC, VectorIndex


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    v = np.random.default_rng(0).normal(size=(args.n, args.dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as tmp:
        checked, unchecked = Path(tmp) / "checked.faiss", Path(tmp) / "unchecked.faiss"
        VectorIndex.build(args.dim, np.arange(args.n), v, kind="flat").save(checked)
        header, payload = read_framed(checked, MAGIC)
        header.pop("sha256")
        write_framed(unchecked, MAGIC, header, payload)
        with_sum = best_of(lambda: VectorIndex.load(checked), args.repeats)
        without = best_of(lambda: VectorIndex.load(unchecked), args.repeats)
        digest = best_of(lambda: hashlib.sha256(payload).hexdigest(), args.repeats)
    size = len(payload)
    print(f"flat index, {args.n} x {args.dim} ({size / 2**20:.0f} MiB), best of {args.repeats} loads:")
    print(f"  with sha256 verified: {with_sum * 1000:8.1f} ms")
    print(f"  without:              {without * 1000:8.1f} ms")
    print(f"  sha256 of the payload alone: {digest * 1000:.1f} ms")


if __name__ == "__main__":
    main()
