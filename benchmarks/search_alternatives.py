"""Index structures tried for the 1M-photo goal, measured side by side in one run.

    python benchmarks/search_alternatives.py --like-db val.db [--n 1000000] [--only fastscan,sq8,identity]

Same synthetic gallery, queries and metrics as bench_search.py (run that for the shipped
index kinds). Each alternative is plain FAISS, built here and not in facesearch:

- ``fastscan``: IVF4096 (HNSW coarse quantizer) over 4-bit product-quantised codes
  (PQ32x4fs), the candidates re-ranked by exact inner products (IndexRefineFlat).
- ``sq8``: HNSW32 over 8-bit scalar-quantised vectors, re-ranked exactly (adopted:
  facesearch's ``hnsw`` kind is built this way since this measurement).
- ``identity``: one inverted list per identity (its photos), routed by an HNSW graph over
  the identity means: the known labels replace k-means.
"""
from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from bench_search import gallery, latencies, nn_recall, numpy_search, real_statistics, recall


def measure(name, index, q, truth, base_ms):
    lat = latencies(lambda qq: index.search(qq, 10), q[:500])
    _, got = index.search(q, 10)
    p50 = np.median(lat)
    print(f"| {name} | {p50:.3f} | {np.percentile(lat, 99):.3f} | {np.mean(got[:, 0] == truth[:, 0]):.4f} | "
          f"{nn_recall(truth, got, 10):.4f} | {recall(truth, got, 10):.4f} | {base_ms / p50:.1f}x |", flush=True)


def fastscan(x, dim, report):
    base = faiss.index_factory(dim, "IVF4096_HNSW32,PQ32x4fs", faiss.METRIC_INNER_PRODUCT)
    base.train(x[np.random.default_rng(1).choice(len(x), min(len(x), 200_000), replace=False)])
    index = faiss.IndexRefineFlat(base)
    index.add(x)
    index.k_factor = 16
    for nprobe in (16, 64, 128):
        faiss.extract_index_ivf(base).nprobe = nprobe
        report(f"IVF4096,PQ32x4fs + exact re-rank of 160, nprobe {nprobe}", index)


def sq8(x, dim, report):
    base = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
    base.hnsw.efConstruction = 200
    base.train(x[:200_000])
    base.add(x)
    index = faiss.IndexRefineFlat(base, faiss.swig_ptr(x))
    index.k_factor = 2
    for ef in (64, 128, 256):
        base.hnsw.efSearch = ef
        report(f"HNSW32,SQ8 + exact re-rank of 20, efSearch {ef}", index)


def identity(x, dim, report, per_id=5):
    n_id = len(x) // per_id  # gallery() lays out each identity's photos consecutively
    means = x[: n_id * per_id].reshape(n_id, per_id, dim).mean(1)
    quantizer = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    quantizer.hnsw.efConstruction = 200
    quantizer.add(np.ascontiguousarray(means / np.linalg.norm(means, axis=1, keepdims=True)))
    index = faiss.IndexIVFFlat(quantizer, dim, n_id, faiss.METRIC_INNER_PRODUCT)
    index.is_trained = True
    ids = np.arange(len(x), dtype=np.int64)
    lists = np.ascontiguousarray(ids // per_id)
    index.add_core(len(x), faiss.swig_ptr(x), faiss.swig_ptr(ids), faiss.swig_ptr(lists))
    for ef, nprobe in ((64, 32), (128, 32)):
        quantizer.hnsw.efSearch = ef
        index.nprobe = nprobe
        report(f"one list per identity, efSearch {ef}, nprobe {nprobe}", index)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--like-db", default=None, help="facesearch DB whose real embeddings shape the synthetic data")
    ap.add_argument("--only", default="fastscan,sq8,identity")
    args = ap.parse_args()
    like = real_statistics(args.like_db) if args.like_db else None
    dim = like[2] if like else args.dim
    x, q = gallery(args.n, dim, np.random.default_rng(0), like=like)
    exact = faiss.IndexFlatIP(dim)
    exact.add(x)
    _, truth = exact.search(q, 10)
    base_ms = np.median(latencies(lambda qq: numpy_search(x, qq, 10), q[:200]))
    print(f"## {args.n:,} vectors, dim {dim}; numpy brute force p50 {base_ms:.2f} ms")
    print("| method | p50 ms | p99 ms | recall@1 | 1-recall@10 | recall@10 | p50 speed-up vs numpy |")
    print("|---|---|---|---|---|---|---|")
    for name in args.only.split(","):
        t = time.perf_counter()
        {"fastscan": fastscan, "sq8": sq8, "identity": identity}[name](
            x, dim, lambda label, index: measure(label, index, q, truth, base_ms))
        print(f"({name}: built and measured in {time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
