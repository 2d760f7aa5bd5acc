"""Where does identification stop being reliable? Face-quality measures against protocol-A
top-1 on FACECOM *train* (the limits in facesearch/faces/quality.py are read off this).

    python benchmarks/quality_limits.py ../shared/data/facecom/train --identities 300

Embeds (and caches, in a throw-away DB) every photo of the first N identities with the
shipped model, then prints top-1 by bins of each measure, per distortion.
"""
from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from facesearch.encoders import create_encoder
from facesearch.files import sha256_file
from facesearch.gallery import Gallery
from facesearch.photos.scan import describe, scan_gallery

MEASURES = {"saturated": np.linspace(0, 1, 11), "dark": np.linspace(0, 1, 11),
            "face_px": np.array([0, 10, 20, 30, 40, 60, 80, 120, 1e9]), "yaw": np.array([0, .1, .2, .4, .6, .85, 1, 10])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--identities", type=int, default=300)
    ap.add_argument("--db", default=None, help="cache DB (default: a temporary one)")
    ap.add_argument("--protocol", choices=("A", "B"), default="B",
                    help="A: every clean photo enrolled; B: the first clean photo of each identity, queries "
                    "from its other photos (a new photo of a known person: what a user asks)")
    args = ap.parse_args()
    items = scan_gallery(args.data, include_distorted=True)
    keep = sorted({n for n, _ in items})[:args.identities]
    items = [(n, p) for n, p in items if n in set(keep)]
    db = args.db or str(Path(tempfile.mkdtemp()) / "quality.db")
    g = Gallery(db, encoder=create_encoder("default"), detector="mtcnn")
    g.ensure_meta()
    vectors, _ = g.embed_labelled([p for _, p in items])
    cache = g.store.cached_embeddings(g.encoder.card.checksum, g.encoder.embedding_dim)
    rows = [(n, p, *describe(p)) for n, p in items if p in vectors]
    measures = [cache[sha256_file(p)][1]["measures"] for _, p, _, _ in rows]
    label = {n: i for i, n in enumerate(keep)}
    emb = np.stack([vectors[p][0] for _, p, _, _ in rows])
    y = np.array([label[n] for n, _, _, _ in rows])
    clean = np.array([k == "clean" for _, _, k, _ in rows])
    gallery, query = clean.copy(), ~clean
    if args.protocol == "B":  # enrol each identity's first clean photo; query distortions of the others
        first = {}
        for i, (n, p, k, stem) in enumerate(rows):
            if k == "clean" and (n not in first or str(p) < str(rows[first[n]][1])):
                first[n] = i
        gallery = np.isin(np.arange(len(rows)), list(first.values()))
        sources = {(rows[i][0], rows[i][3]) for i in first.values()}
        query = np.array([k != "clean" and (n, stem) not in sources for n, _, k, stem in rows])
    sims = emb[query] @ emb[gallery].T
    best = np.full((len(sims), len(keep)), -np.inf)
    for c in np.unique(y[gallery]):
        best[:, c] = sims[:, y[gallery] == c].max(axis=1)
    hit = best.argmax(axis=1) == y[query]
    kinds = [k for (_, _, k, _), q in zip(rows, query) if q]
    qm = [m for m, q in zip(measures, query) if q]
    print(f"{len(rows)} photos, {int(query.sum())} distorted queries, protocol {args.protocol} top-1 {hit.mean():.3f}")
    for name, edges in MEASURES.items():
        table = defaultdict(lambda: defaultdict(list))
        for h, k, m in zip(hit, kinds, qm):
            v = m.get(name)
            if v is None:
                continue
            v = abs(v)
            b = int(np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2))
            table[b][k].append(h)
            table[b]["all"].append(h)
        print(f"\n{name}: bin | queries | top-1 | queries by distortion")
        for b in sorted(table):
            t = table[b]
            by = ", ".join(f"{k} {len(v)}" for k, v in sorted(t.items()) if k != "all")
            print(f"  [{edges[b]:g}, {edges[b + 1]:g}) | {len(t['all'])} | {np.mean(t['all']):.3f} | {by}")


if __name__ == "__main__":
    main()
