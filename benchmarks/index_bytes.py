"""Bytes per vector of FAISS index structures, for sizing (docs/scaling.md).

    python benchmarks/index_bytes.py [--dim 128] [--n 50000]

Each factory string is built (trained on ``n`` vectors), filled with ``n / 2`` vectors, then
with ``n``; the growth of the serialised index between the two is the cost of one more
vector, without the fixed part (centroids, codebooks), which is printed apart. The growth
of the resident memory of this process is printed too (it adds what serialisation leaves
out, e.g. IDMap2's reverse id map, and the spare capacity of growing arrays). Vectors are isotropic random unit
vectors: sizes do not depend on the data, except HNSW's upper levels, a few percent.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import time

import faiss
import numpy as np

KINDS = [  # (label, factory string): {nlist} is filled in
    ("flat (facesearch flat)", "IDMap2,Flat"),
    ("IVF, float lists (facesearch ivf)", "IVF{nlist},Flat"),
    ("IVF, 8-bit scalar quantiser", "IVF{nlist},SQ8"),
    ("IVF-PQ, 32 bytes", "IVF{nlist},PQ32"),
    ("IVF-PQ, 16 bytes", "IVF{nlist},PQ16"),
    ("IVF-PQ 4-bit fast scan, 16 bytes", "IVF{nlist},PQ32x4fs"),
    ("HNSW32, float", "IDMap2,HNSW32,Flat"),
    ("HNSW32 over SQ8 + exact re-rank (facesearch hnsw)", "IDMap2,HNSW32_SQ8,RFlat"),
]


def rss_bytes() -> int:
    """Resident bytes now, after handing freed heap back to the system (glibc)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--nlist", type=int, default=256)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(args.n, dtype=np.int64)
    half = args.n // 2
    print(f"faiss {faiss.__version__}, dim {args.dim}, {args.n:,} vectors, nlist {args.nlist}\n")
    print("| structure | factory string | bytes per vector (file) | fixed bytes | resident bytes per vector "
          "| build s |\n|---|---|---|---|---|---|")
    for label, spec in KINDS:
        spec = spec.format(nlist=args.nlist)
        gc.collect()
        before = rss_bytes()
        t = time.perf_counter()
        index = faiss.index_factory(args.dim, spec, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(x)
        index.add_with_ids(x[:half], ids[:half]) if "IDMap" in spec or "IVF" in spec else index.add(x[:half])
        first = len(faiss.serialize_index(index))
        index.add_with_ids(x[half:], ids[half:]) if "IDMap" in spec or "IVF" in spec else index.add(x[half:])
        build = time.perf_counter() - t
        resident = (rss_bytes() - before) / args.n
        full = len(faiss.serialize_index(index))
        per = (full - first) / (args.n - half)
        print(f"| {label} | `{spec}` | {per:.0f} | {full - per * args.n:,.0f} | {resident:.0f} | {build:.1f} |",
              flush=True)
        del index


if __name__ == "__main__":
    main()
