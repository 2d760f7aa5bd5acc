"""Search speed and recall: facesearch's FAISS index kinds vs brute-force numpy, side by side.

    python benchmarks/bench_search.py [--sizes 10000,100000,1000000] [--dim 128] [--milvus flat,ivf,hnsw]

Galleries are synthetic: identities are centres with 5 noisy photos each; queries are
fresh noisy photos of random identities. By default the centres are isotropic random unit
vectors: every other identity is then almost equally far, the worst case for approximate
search. ``--like-db facesearch.db`` instead draws centres from a Gaussian with the
covariance of the identity means, and photo noise of the within-identity spread, of the
real embeddings enrolled in that database. "numpy" is what a pickle-and-loop library does: one matrix-vector product and
an argpartition per query. Recall is measured against exact (flat) search, two ways:
"recall@10" is the overlap of the returned and the exact top-10 (ann-benchmarks' k-NN
recall), "1-recall@10" the share of queries whose exact nearest photo is among the 10
returned (FAISS's R@10). recall@1 is both at once.

``--milvus`` adds Milvus Lite rows (``milvus_lite.py``; pymilvus + milvus-lite) on the same
vectors and queries: build is insert + flush + index build and load, size is its files on
disk (rows and index), latency is one query through pymilvus.
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time

import faiss
import numpy as np

from facesearch.gallery.index import VectorIndex


SWEEP = {"ivf": [{"nprobe": p} for p in (16, 64, 256)],
         "hnsw": [{"ef_search": e} for e in (64, 128, 256, 320, 512)]}


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_statistics(db: str):
    """(covariance of identity means, within-identity std per dim, dim) of a DB's photos."""
    import sqlite3

    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT identity_id, embedding FROM photos").fetchall()
        dim = len(rows[0][1]) // 4
        emb = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, dim)
        labels = np.array([r[0] for r in rows])
    means = np.stack([emb[labels == i].mean(0) for i in np.unique(labels)])
    multi = [i for i in np.unique(labels) if (labels == i).sum() > 1]
    spread = np.concatenate([emb[labels == i] - emb[labels == i].mean(0) for i in multi])
    n = np.array([(labels == i).sum() for i in multi])
    unbiased = np.sqrt((spread ** 2).sum() / ((n - 1).sum() * dim))  # per-dimension std
    return np.cov(means.T), float(unbiased), dim


def gallery(n, dim, rng, per_id=5, noise=0.6, like=None):
    n_id = n // per_id
    if like is None:
        centres = unit(rng.standard_normal((n_id, dim), dtype=np.float32))
        sigma = noise / np.sqrt(dim)
    else:
        cov, sigma, _ = like
        centres = unit(rng.multivariate_normal(np.zeros(dim), cov, size=n_id, method="cholesky")
                       .astype(np.float32))
    photos = np.repeat(centres, per_id, axis=0)
    photos += sigma * rng.standard_normal(photos.shape, dtype=np.float32)
    queries_of = rng.integers(0, len(centres), 1000)
    q = centres[queries_of] + sigma * rng.standard_normal((1000, dim), dtype=np.float32)
    return unit(photos), unit(q)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latencies(fn, queries):
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q[None])
        out.append(time.perf_counter() - t)
    return np.array(out) * 1000


def numpy_search(x, q, k):
    s = x @ q[0]
    top = np.argpartition(-s, k)[:k]
    return top[np.argsort(-s[top])]


def recall(truth, got, k):
    """k-NN recall: overlap of the exact and the returned top-k."""
    return float(np.mean([len(set(t[:k]) & set(g[:k])) / k for t, g in zip(truth, got)]))


def nn_recall(truth, got, k):
    """1-recall@k: the exact nearest neighbour is among the first k returned."""
    return float(np.mean([t[0] in g[:k] for t, g in zip(truth, got)]))


def rows_for(label, build, size, search, q, truth, singles=500):
    """A table row: latencies of ``singles`` single queries, then one batch of all."""
    lat = latencies(lambda qq: search(qq, 10), q[:singles])
    t = time.perf_counter()
    _, got = search(q, 10)
    batch = len(q) / (time.perf_counter() - t)
    return (label, build, size, np.median(lat), np.percentile(lat, 99), batch, float(np.mean(got[:, 0] == truth[:, 0])),
            nn_recall(truth, got, 10), recall(truth, got, 10))


def milvus_rows(kinds, x, ids, q, truth, folder, singles):
    """Milvus Lite rows: one collection, each kind's index built on it in turn."""
    from milvus_lite_bench import LiteCollection, search_params

    col = LiteCollection(folder, x.shape[1])
    inserted = col.insert(ids, x)
    print(f"(milvus lite: insert + flush of {len(ids):,} rows {inserted:.1f} s)", flush=True)
    rows = []
    for kind in kinds:
        build, params = col.build(kind, len(ids))
        size = col.disk_bytes() / 2**20
        for setting in SWEEP.get(kind, [{}]):
            sp = search_params(kind, setting)
            label = "milvus-lite " + " ".join(f"{k}={v}" for k, v in {**params, **sp}.items())
            rows.append(rows_for(label, inserted + build, size, lambda qq, k: (None, col.search(qq, k, sp)), q, truth,
                                 singles))
    col.close()
    return rows


def bench(n, dim, rng, kinds, like=None, milvus=(), milvus_dir=None, milvus_singles=100):
    x, q = gallery(n, dim, rng, like=like)
    ids = np.arange(n, dtype=np.int64)
    rows = []
    t = time.perf_counter()
    exact = VectorIndex.build(dim, ids, x, kind="flat")
    flat_build = time.perf_counter() - t
    _, truth = exact.search(q, 10)
    lat_np = latencies(lambda qq: numpy_search(x, qq, 10), q[:200])
    t = time.perf_counter()
    for qq in q:
        numpy_search(x, qq[None], 10)
    rows.append(("numpy brute force", 0.0, x.nbytes / 2**20, np.median(lat_np), np.percentile(lat_np, 99),
                 len(q) / (time.perf_counter() - t), 1.0, 1.0, 1.0))
    for kind in kinds:
        gc.collect()
        if kind == "flat":
            idx, build = exact, flat_build
        else:
            t = time.perf_counter()
            idx = VectorIndex.build(dim, ids, x, kind=kind)
            build = time.perf_counter() - t
        size = len(faiss.serialize_index(idx.faiss)) / 2**20
        for setting in SWEEP.get(kind, [{}]):  # search-time knobs: no rebuild needed
            idx.set_search_params(**setting)
            label = f"facesearch {kind} " + " ".join(f"{k}={v}" for k, v in idx.params.items())
            rows.append(rows_for(label.strip(), build, size, idx.search, q, truth))
    if milvus:
        exact = idx = None  # free FAISS memory before Milvus loads its own copy
        gc.collect()
        with tempfile.TemporaryDirectory(dir=milvus_dir) as folder:
            rows += milvus_rows(milvus, x, ids, q, truth, folder, milvus_singles)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dim", type=int, default=128, help="embedding dim (the shipped model: 128)")
    ap.add_argument("--kinds", default="flat,ivf,hnsw")
    ap.add_argument("--like-db", default=None, help="facesearch DB whose real embeddings shape the synthetic data")
    ap.add_argument("--milvus", default="", help="also these kinds in Milvus Lite, e.g. flat,ivf,hnsw "
                    "(needs pymilvus and milvus-lite)")
    ap.add_argument("--milvus-dir", default=None, help="folder for Milvus Lite's temporary files")
    ap.add_argument("--milvus-queries", type=int, default=100, help="single queries timed per Milvus row (Lite's "
                    "search walks every primary key in Python: seconds a query at 1M here)")
    ap.add_argument("--hnsw-up-to", type=int, default=None, help="leave hnsw (FAISS and Milvus) out above this "
                    "size (a 1M graph takes ~10 min to build on 2 free cores, each)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    like = real_statistics(args.like_db) if args.like_db else None
    if like:
        args.dim = like[2]
        print(f"centres ~ N(0, covariance of {args.like_db}'s identity means), photo noise std {like[1]:.4f}/dim")
    print(f"faiss {faiss.__version__}, {os.cpu_count()} CPUs, omp threads {faiss.omp_get_max_threads()}")
    if args.milvus:
        from importlib.metadata import version

        print(f"pymilvus {version('pymilvus')}, milvus-lite {version('milvus-lite')}")
    for n in map(int, args.sizes.split(",")):
        def sized(kinds):
            return [k for k in kinds.split(",") if k and not (k == "hnsw" and n > (args.hnsw_up_to or n))]

        rows = bench(n, args.dim, rng, sized(args.kinds), like, sized(args.milvus), args.milvus_dir,
                     args.milvus_queries)
        base = rows[0][3]
        print(f"\n## {n:,} vectors, dim {args.dim}")
        print("| method | build s | size MB | p50 ms | p99 ms | batch q/s | recall@1 | 1-recall@10 | recall@10 "
              "| p50 speed-up vs numpy |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, build, size, p50, p99, qps, r1, nn10, r10 in rows:
            print(f"| {name} | {build:.2f} | {size:.0f} | {p50:.3f} | {p99:.3f} | {qps:,.0f} | {r1:.4f} | "
                  f"{nn10:.4f} | {r10:.4f} | {base / p50:.1f}x |")
        print(f"(peak RSS so far {rss_mb():.0f} MB)")


if __name__ == "__main__":
    main()
