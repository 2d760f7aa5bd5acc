"""PCA + SVC (`query --decider svc`) against nearest neighbour (`--decider nn`), FACECOM protocol A.

    python benchmarks/classifier_compare.py ../shared/data/facecom/val \
        --train ../shared/data/facecom/train --db val.db

Two galleries, each scored by top-1 over the distorted queries:
- clean: every clean photo enrolled, every distorted copy queried (protocol A);
- with distorted (`index --include-distorted`): the clean photos and their distorted copies
  enrolled, except that the kind being queried is left out: seven rounds, one per kind (a
  query's own file is never in the gallery; its clean source and other copies are).
Hyper-parameters (PCA dims, C) are chosen on --identities training identities (a split of
train, --seed), per gallery, and only then scored on ROOT (val). Embeddings come from the
database's encoder through `Gallery.embed_labelled` (cached in the DB by file hash), and the
SVC is fitted by the same function as `facesearch classifier fit`.
"""
from __future__ import annotations

import argparse
import itertools
import random
import time
from pathlib import Path

import numpy as np

from facesearch.gallery import Gallery
from facesearch.gallery.classifier import fit_vectors, rank

KINDS = ("blurred", "foggy", "lowlight", "noisy", "rainy", "resized", "sunny")


def embed(gallery: Gallery, root: Path, identities: list[str] | None = None):
    """(vectors, identity per row, kind per row: None for clean photos)."""
    people = sorted(p for p in root.iterdir() if p.is_dir() and (identities is None or p.name in identities))
    rows = [(p.name, f, None) for p in people for f in sorted(p.glob("*.jpg"))]
    rows += [(p.name, f, f.stem.rsplit("_", 1)[1]) for p in people for f in sorted((p / "distortion").glob("*.jpg"))]
    found, errors = gallery.embed_labelled([f for _, f, _ in rows])
    rows = [r for r in rows if r[1] in found]
    return (np.stack([found[f][0] for _, f, _ in rows]), np.array([n for n, _, _ in rows]),
            np.array([k or "" for _, _, k in rows]))


def nn_top1(gal, gal_y, queries) -> np.ndarray:
    """The identity of each query's most similar gallery photo (= nearest identity)."""
    return gal_y[np.argmax(queries @ gal.T, axis=1)]


BY_PROBABILITY = False  # --by-probability: rank by Platt probabilities instead (not what query does)


def svc_top1(gal, gal_y, queries, components, c, kernel) -> np.ndarray:
    """What `query --decider svc` names first (the SVC's decision)."""
    model = fit_vectors(gal, list(gal_y), components, c, kernel)
    if BY_PROBABILITY:
        return model.classes_[np.argmax(model.predict_proba(queries), axis=1)]
    return np.array([r[0][0] for r in rank(model, queries, 1)])


def rounds(kind: np.ndarray, with_distorted: bool):
    """(gallery rows, query rows) of each round."""
    clean = kind == ""
    if not with_distorted:
        yield clean, ~clean
        return
    for k in KINDS:
        yield (kind != k), kind == k


def score(data, with_distorted: bool, decider: str, params=None) -> tuple[float, dict]:
    x, y, kind = data
    hits, by_kind = 0, {}
    n = 0
    for g, q in rounds(kind, with_distorted):
        pred = nn_top1(x[g], y[g], x[q]) if decider == "nn" else svc_top1(x[g], y[g], x[q], *params)
        ok = pred == y[q]
        hits, n = hits + ok.sum(), n + len(ok)
        for k in KINDS:
            if (kind[q] == k).any():
                by_kind[k] = float(ok[kind[q] == k].mean())
    return hits / n, by_kind


def label(params) -> str:
    return f"PCA {params[0]}, {params[2]} C {params[1]:g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="where the comparison is reported (FACECOM val)")
    ap.add_argument("--train", type=Path, required=True, help="where hyper-parameters are chosen (FACECOM train)")
    ap.add_argument("--db", required=True, help="database whose encoder embeds (and caches) the photos")
    ap.add_argument("--identities", type=int, default=250, help="training identities of the selection split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--components", default="32,64,128")
    ap.add_argument("--c", default="1,10,100")
    ap.add_argument("--kernels", default="linear,rbf")
    ap.add_argument("--by-probability", action="store_true", help="rank identities by Platt probability")
    args = ap.parse_args()
    global BY_PROBABILITY
    BY_PROBABILITY = args.by_probability
    gallery = Gallery.open(args.db)
    people = sorted(p.name for p in args.train.iterdir() if p.is_dir())
    split = set(random.Random(args.seed).sample(people, min(args.identities, len(people))))
    train, val = embed(gallery, args.train, split), embed(gallery, args.root)
    grid = list(itertools.product(map(int, args.components.split(",")), map(float, args.c.split(",")),
                                  args.kernels.split(",")))
    print(f"selection split: {len(split)} of {len(people)} training identities (seed {args.seed}), "
          f"{len(train[0])} photos; reported on {args.root} ({len(val[0])} photos)\n")
    table = []
    for with_distorted in (False, True):
        name = "with distorted (7 rounds)" if with_distorted else "clean"
        nn_train = score(train, with_distorted, "nn")[0]
        picked = []
        for params in grid:
            t = time.perf_counter()
            acc = score(train, with_distorted, "svc", params)[0]
            picked.append((acc, params))
            print(f"  train {name}: svc {label(params)}: top-1 {acc:.4f} ({time.perf_counter() - t:.0f} s)")
        best_acc, best = max(picked)
        print(f"  train {name}: nn top-1 {nn_train:.4f}; chosen {label(best)} ({best_acc:.4f})")
        for decider, params in (("nn", None), ("svc", best)):
            acc, kinds = score(val, with_distorted, decider, params)
            table.append((name, decider if decider == "nn" else f"svc ({label(best)})", acc, kinds,
                          nn_train if decider == "nn" else best_acc))
    print("\n| gallery | decider | val top-1 | train split top-1 | " + " | ".join(KINDS) + " |")
    print("|---|---|---|---|" + "---|" * len(KINDS))
    for name, decider, acc, kinds, tr in table:
        print(f"| {name} | {decider} | {acc:.4f} | {tr:.4f} | " + " | ".join(f"{kinds[k]:.3f}" for k in KINDS) + " |")


if __name__ == "__main__":
    main()
