"""The shipped encoders side by side in one run: embedding cost per face and the whole
pipeline (decode + detect + align + embed) in photos/s, with ratios to the first model.

    python benchmarks/bench_models.py ../shared/data/facecom/val [--models default,sface,fused] [--n 256]

Same photos, same process, models taking turns (``--rounds`` of each; the best round is
reported, as the machine's load moves between them).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from facesearch.encoders import create_encoder
from facesearch.faces.detect import Aligner
from facesearch.faces.pipeline import Embedder
from facesearch.photos.images import load_rgb
from facesearch.photos.scan import scan_gallery


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--models", default="default,sface,fused")
    ap.add_argument("--n", type=int, default=256, help="photos (clean and distorted, every k-th)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    items = scan_gallery(args.root, include_distorted=True)
    paths = [p for _, p in items[:: max(1, len(items) // args.n)]][: args.n]
    crops = np.stack([f.crop for f in Aligner(112, "mtcnn").align([load_rgb(p) for p in paths])])
    models = {m: create_encoder(m) for m in args.models.split(",")}
    embed_ms, photos_s = {m: [] for m in models}, {m: [] for m in models}
    for _ in range(args.rounds):
        for name, enc in models.items():
            enc.embed(crops[:32])  # warm
            t = time.perf_counter()
            enc.embed(crops)
            embed_ms[name].append((time.perf_counter() - t) * 1000 / len(crops))
            embedder = Embedder(enc, "mtcnn")
            t = time.perf_counter()
            for batch in embedder.batches(paths, 32, False):
                pass
            photos_s[name].append(len(paths) / (time.perf_counter() - t))
    first = next(iter(models))
    print(f"{len(paths)} FACECOM photos ({args.root.name}), best of {args.rounds} rounds, models taking turns.\n")
    print("| model | dim | embedding ms per face (with its mirror) | x first | pipeline photos/s | x first |")
    print("|---|---|---|---|---|---|")
    for name, enc in models.items():
        e, p = min(embed_ms[name]), max(photos_s[name])
        print(f"| {name} | {enc.card.embedding_dim} | {e:.2f} | {e / min(embed_ms[first]):.2f} | {p:.1f} | "
              f"{p / max(photos_s[first]):.2f} |")


if __name__ == "__main__":
    main()
