"""Embedding throughput: facesearch's pipeline vs a plain per-image loop, side by side.

    python benchmarks/bench_embed.py ../shared/data/facecom/val [--model default] [--n 512]

Two inputs: FACECOM photos (224 px: decode + MTCNN + align + embed) and aligned 112-px
crops written as JPEG (decode + embed; detection is skipped for encoder-sized crops).
The baseline is what a simple script does: for each file, open, detect, align, then run
the model on that one face (and its mirror).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facesearch.detect import Aligner
from facesearch.encoders import create_encoder
from facesearch.images import load_rgb
from facesearch.pipeline import Embedder


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def baseline(encoder, aligner, paths):
    for p in paths:
        face = aligner.align([load_rgb(p)])[0]
        encoder.embed(face.crop[None], batch_size=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--model", default="default")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--n", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    enc = create_encoder(args.model, args.weights)
    size = enc.preprocess.size
    photos = sorted(args.root.glob("*/distortion/*.jpg"))[: args.n]
    aligner = Aligner(size, "mtcnn")
    with tempfile.TemporaryDirectory() as tmp:
        crops_dir = Path(tmp)
        faces = []
        for i in range(0, len(photos), 64):
            faces += aligner.align([load_rgb(p) for p in photos[i:i + 64]])
        crop_paths = []
        for i, f in enumerate(faces):
            crop_paths.append(crops_dir / f"{i:05d}.jpg")
            Image.fromarray(f.crop).save(crop_paths[-1], quality=95)
        crops = np.stack([f.crop for f in faces])
        enc.embed(crops[:64])  # warm-up
        rows = []
        for label, paths in (("FACECOM photos (detect+align)", photos), (f"aligned {size}px crops", crop_paths)):
            n = len(paths)
            for batch in (64, 1):
                emb = Embedder(enc, "mtcnn")
                t = timed(lambda: list(emb.run(paths, batch_size=batch)))
                rows.append((f"{label}: facesearch, batch {batch}", n / t))
            t = timed(lambda: baseline(enc, aligner, paths))
            rows.append((f"{label}: per-image loop baseline", n / t))
        for batch in (64, 1):
            t = timed(lambda: enc.embed(crops, batch_size=batch))
            rows.append((f"embed alone (preloaded crops), batch {batch}", len(crops) / t))
    print(f"model {enc.name} ({enc.checksum[:12]}), flip={enc.flip}, {torch.get_num_threads()} threads, "
          f"{len(photos)} photos")
    print("| pipeline | photos/s |")
    print("|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} |")
    r = {name: rate for name, rate in rows}
    for label in ("FACECOM photos (detect+align)", f"aligned {size}px crops"):
        print(f"{label}: facesearch batch 64 is {r[f'{label}: facesearch, batch 64'] / r[f'{label}: per-image loop baseline']:.2f}x the per-image loop")


if __name__ == "__main__":
    main()
