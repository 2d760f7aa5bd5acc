"""Embedding throughput: facesearch's pipeline vs a plain per-image loop, side by side.

    python benchmarks/bench_embed.py ../shared/data/facecom/val [--model default] [--n 512]

Two inputs: FACECOM photos (224 px: decode + MTCNN + align + embed) and aligned 112-px
crops written as JPEG (decode + embed; detection is skipped for encoder-sized crops).
The baseline is what a simple script does: for each file, open, detect (MTCNN with
facenet-pytorch's defaults), align, then run the eager PyTorch model on that one face (and
its mirror). facesearch is measured with its runtime (ONNX Runtime) and with the eager
PyTorch encoder of the same weights (``FACESEARCH_RUNTIME=torch``; detection stays ONNX).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facesearch.config import RUNTIME_ENV
from facesearch.faces.detect import Aligner
from facesearch.encoders import create_encoder, load_net
from facesearch.encoders.torch_net import to_model_input, torch_encoder
from facesearch.photos.images import load_rgb
from facesearch.faces.mtcnn import MTCNN
from facesearch.faces.pipeline import Embedder


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


@torch.inference_mode()
def baseline(net, aligner, paths):
    for p in paths:
        face = aligner.align([load_rgb(p)])[0]
        x = to_model_input(face.crop[None], net.preprocess, "cpu")
        torch.nn.functional.normalize(net(x) + net(torch.flip(x, dims=[3])))


def build(args, runtime_name: str):
    """An encoder and a detector for one runtime ("onnx" or "torch")."""
    os.environ[RUNTIME_ENV] = runtime_name
    enc = (torch_encoder(load_net(args.model, args.weights), "bench") if runtime_name == "torch"
           else create_encoder(args.model, args.weights))
    aligner = Aligner(enc.preprocess.size, "mtcnn")
    aligner.mtcnn  # noqa: B018  (load now, not inside a timed run)
    return enc, aligner


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--model", default="default")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--n", type=int, default=512)
    args = ap.parse_args()
    default_runtime = "onnx"
    slow_enc, slow_aligner = build(args, "torch")
    base_aligner = Aligner(slow_enc.preprocess.size, "mtcnn")
    base_aligner._mtcnn = MTCNN(min_face_size=20)  # facenet-pytorch's default
    enc, aligner = build(args, default_runtime)
    size = enc.preprocess.size
    photos = sorted(args.root.glob("*/distortion/*.jpg"))[: args.n]
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
        for e in (enc, slow_enc):
            e.embed(crops[:64])  # warm-up
        rows = []
        for label, paths in (("FACECOM photos (detect+align)", photos), (f"aligned {size}px crops", crop_paths)):
            n = len(paths)
            for batch in (64, 1):
                emb = Embedder(enc, "mtcnn")
                emb.aligner = aligner
                t = timed(lambda: list(emb.run(paths, batch_size=batch)))
                rows.append((f"{label}: facesearch, batch {batch}", n / t))
            emb = Embedder(slow_enc, "mtcnn")
            emb.aligner = slow_aligner
            t = timed(lambda: list(emb.run(paths, batch_size=64)))
            rows.append((f"{label}: facesearch with FACESEARCH_RUNTIME=torch, batch 64", n / t))
            t = timed(lambda: baseline(load_net(args.model, args.weights).eval(), base_aligner, paths))
            rows.append((f"{label}: per-image loop baseline", n / t))
        for batch in (64, 1):
            t = timed(lambda: enc.embed(crops, batch_size=batch))
            rows.append((f"embed alone (preloaded crops), batch {batch}", len(crops) / t))
        t = timed(lambda: slow_enc.embed(crops, batch_size=64))
        rows.append(("embed alone, FACESEARCH_RUNTIME=torch, batch 64", len(crops) / t))
    print(f"model {enc.card}, flip={enc.card.flip}, {torch.get_num_threads()} threads, "
          f"{len(photos)} photos, runtime onnxruntime")
    print("| pipeline | photos/s |")
    print("|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} |")
    r = {name: rate for name, rate in rows}
    for label in ("FACECOM photos (detect+align)", f"aligned {size}px crops"):
        print(f"{label}: facesearch batch 64 is {r[f'{label}: facesearch, batch 64'] / r[f'{label}: per-image loop baseline']:.2f}x the per-image loop")


if __name__ == "__main__":
    main()
