"""Fusing two identity networks without training them (CPU): the shipped MobileFaceNet and
SFace as published, each member's WCCN and the SFace weight chosen on FACECOM train.

    python benchmarks/fusion_members.py ../shared/data/facecom/train ../shared/data/facecom/val \
        [--sface ../shared/weights/sface_2021dec_int8bq.onnx] [--out docs/results/fusion_members.json]

Train identities are split as the GPU recipe splits them (training.gpu_recipe.split_names:
fit 70% / select 15% / check 15%): WCCN is fitted on ``fit``, the alphas and the weight are
chosen on ``select`` (protocol B top-1), ``check`` and val are only scored. Caveat printed with
the figures: the shipped MobileFaceNet was fine-tuned on all of train, so on ``select`` and
``check`` it is scored on people it was trained on (its figures there are optimistic, and the
choice leans towards it); val is the fair figure. Embeddings (flip-averaged, as facesearch makes
them) are cached under ~/facesearch-runs/emb so reruns take seconds.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facesearch.encoders import create_encoder  # noqa: E402
from training.data import load_crops  # noqa: E402
from training.gpu_recipe import choose_fusion, fuse, score, split_names  # noqa: E402
from training.sface import from_onnx  # noqa: E402

CACHE = Path.home() / "facesearch-runs" / "emb"


def cached(name: str, crops: np.ndarray, make) -> np.ndarray:
    key = hashlib.sha256(crops[:: max(1, len(crops) // 64)].tobytes()).hexdigest()[:12]
    path = CACHE / f"{name}-{len(crops)}-{key}.npy"
    if path.exists():
        return np.load(path)
    t = time.perf_counter()
    emb = make(crops)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    print(f"embedded {len(crops)} crops with {name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return emb


def sface_embedder(path: str):
    """Flip-averaged SFace embeddings through ONNX Runtime (PyTorch's depthwise convolutions
    are several times slower on a CPU); the graph is the training module exported again."""
    import onnxruntime as ort

    graph = CACHE.parent / "sface-float.onnx"
    if not graph.exists():
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        torch.onnx.export(from_onnx(path), (torch.rand(2, 3, 112, 112) * 255,), str(graph), input_names=["x"],
                          dynamic_axes={"x": {0: "n"}}, opset_version=17, dynamo=False)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])

    def run(crops: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(crops), 32):
            x = crops[i:i + 32].transpose(0, 3, 1, 2).astype(np.float32)
            e = session.run(None, {"x": np.concatenate([x, x[..., ::-1]])})[0]
            e = e[:len(x)] + e[len(x):]
            out.append(e / np.linalg.norm(e, axis=1, keepdims=True))
        return np.concatenate(out)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train_dir")
    ap.add_argument("val_dir")
    ap.add_argument("--sface", default=str(Path(__file__).resolve().parents[2] / "shared" / "weights"
                                          / "sface_2021dec_int8bq.onnx"))
    ap.add_argument("--out", default="docs/results/fusion_members.json")
    ap.add_argument("--npz", default=str(Path.home() / "facesearch-runs" / "fusion_members" / "fusion.npz"),
                    help="where the chosen projections and weights go (python -m training.fused reads it)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    mfn = create_encoder()  # the shipped model, as `facesearch index` uses it
    members = {"mobilefacenet": lambda c: mfn.embed(c), "sface": sface_embedder(args.sface)}

    train, val = load_crops(args.train_dir), load_crops(args.val_dir)
    split = split_names(train.names)
    parts = {k: train.identities(split[k]) for k in split} | {"val": val}
    emb = {m: {p: cached(f"{m}-{p}", cs.crops, f) for p, cs in parts.items()} for m, f in members.items()}
    kinds = list(members)
    fusion = choose_fusion([emb[k]["fit"] for k in kinds], parts["fit"].labels,
                           [emb[k]["select"] for k in kinds], parts["select"])
    c, proj = fusion["choice"], fusion["projections"]
    eye = [np.eye(128, dtype=np.float32)] * 2
    rows = {}
    for p in ("select", "check", "val"):
        rows[p] = {k: score(emb[k][p], parts[p]) for k in kinds}
        rows[p]["joined, equal weight"] = score(fuse([emb[k][p] for k in kinds], eye, [0.5, 0.5]), parts[p])
        rows[p]["fused (chosen)"] = score(fuse([emb[k][p] for k in kinds], proj, [1 - c["w_sface"], c["w_sface"]]),
                                          parts[p])
    result = {"command": "python " + " ".join(sys.argv), "choice": c, "figures": rows,
              "caveat": "the shipped MobileFaceNet was fine-tuned on all of train: select/check flatter it"}
    Path(args.npz).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.npz, proj_mobilefacenet=proj[0], proj_sface=proj[1], weights=np.array([1 - c["w_sface"], c["w_sface"]]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"chosen on select: {c}")
    for p, r in rows.items():
        for name, s in r.items():
            print(f"{p:6s} {name:22s} A {s.get('A', 0):.4f} B {s.get('B', 0):.4f} "
                  + " ".join(f"{k[2:]} {v:.3f}" for k, v in s.items() if k.startswith("B_")))


if __name__ == "__main__":
    main()
