"""A fused encoder: several member networks in one ONNX graph (``--model fused``).

    python -m training.fused fusion.npz facesearch/weights/fused_mfn_sface.onnx \
        [--mobilefacenet facesearch/weights/mobilefacenet_facecom.pt] [--sface <SFace .onnx or state dict>]

Each member embeds the crop and its mirror (their sum, as facesearch flip-averages), is
mapped by its projection (WCCN fitted on FACECOM train), L2-normalised and scaled by the
square root of its weight; the parts are joined. So the cosine of two fused embeddings is the
weighted mean of the members' cosines after whitening, which is what
``training.gpu_recipe.fuse`` computes when the weights and projections are chosen (the same
numbers: tests/training/test_fused.py). The graph takes RGB 0..255 (each member scales its own
input) and flips inside, so its card says ``flip: false``; it carries its card in its metadata
(the keys ``facesearch.encoders.graphs.card_metadata`` writes and ``graph_net`` reads).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .gpu_recipe import MFN_MEAN, MFN_STD
from .sface import SFaceNet, from_onnx

META = "facesearch."
RAW_PIXELS = {"size": 112, "mean": [0.0, 0.0, 0.0], "std": [1 / 255] * 3}  # x / 255 * 255: 0..255 as is


class FusedNet(nn.Module):
    def __init__(self, mobilefacenet: nn.Module, sface: nn.Module, projections: list[np.ndarray],
                 weights: list[float]):
        super().__init__()
        self.mfn, self.sface = mobilefacenet.eval(), sface.eval()
        for name, p in zip(("proj_mfn", "proj_sface"), projections):
            self.register_buffer(name, torch.as_tensor(np.asarray(p, np.float32)))
        self.scale = [math.sqrt(w) for w in weights]
        self.register_buffer("mean", torch.tensor(MFN_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(MFN_STD).view(1, 3, 1, 1) * 255)
        self.eval()  # an inference graph (export restores this mode afterwards)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = torch.cat([x, x.flip(3)])
        n = x.shape[0]
        m = self.mfn((both - self.mean) / self.std)
        s = self.sface(both)
        m, s = (m[:n] + m[n:]) @ self.proj_mfn, (s[:n] + s[n:]) @ self.proj_sface
        return torch.cat([F.normalize(m, dim=1) * self.scale[0], F.normalize(s, dim=1) * self.scale[1]], 1)


def load_sface(path: str) -> SFaceNet:
    """The published ONNX file, or a fine-tuned state dict (one file, or the GPU recipe's two)."""
    if path.endswith(".onnx"):
        return from_onnx(path)
    net = SFaceNet()
    parts = [Path(p) for p in path.split(",")]
    state = {}
    for p in parts:
        state.update(torch.load(p, map_location="cpu"))
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net.eval()


def export(net: FusedNet, out: str | Path, provenance: dict) -> str:
    """Write the graph with its card; returns the checksum the card records (of the weights)."""
    import onnx

    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode() + v.detach().cpu().numpy().tobytes())
    h.update(json.dumps(net.scale).encode())
    checksum = h.hexdigest()
    x = torch.full((2, 3, 112, 112), 127.0)
    torch.onnx.export(net, (x,), str(out), input_names=["input"], output_names=["embedding"],
                      dynamic_axes={"input": {0: "n"}, "embedding": {0: "n"}}, opset_version=17, dynamo=False)
    model = onnx.load(str(out))
    meta = {f"{META}arch": "fused:mobilefacenet+sface", f"{META}preprocess": json.dumps(RAW_PIXELS),
            f"{META}embedding_dim": "256", f"{META}checksum": checksum, f"{META}flip": "inside",
            f"{META}provenance": json.dumps(provenance)}
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(out))
    return checksum


def main() -> None:
    from facesearch.config import SHIPPED_MODEL
    from facesearch.encoders.checkpoint import net_from_checkpoint, read_checkpoint

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fusion", help="fusion.npz (training.gpu_recipe or benchmarks/fusion_members.py)")
    ap.add_argument("out")
    ap.add_argument("--mobilefacenet", default=str(SHIPPED_MODEL), help="a facesearch checkpoint")
    ap.add_argument("--sface", default=str(Path(__file__).resolve().parents[2] / "shared" / "weights"
                                          / "sface_2021dec_int8bq.onnx"))
    args = ap.parse_args()
    z = np.load(args.fusion)
    mfn = net_from_checkpoint(read_checkpoint(args.mobilefacenet)).eval()
    net = FusedNet(mfn, load_sface(args.sface), [z["proj_mobilefacenet"], z["proj_sface"]], list(z["weights"]))
    checksum = export(net, args.out, {"mobilefacenet": Path(args.mobilefacenet).name,
                                      "sface": Path(args.sface).name, "fusion": Path(args.fusion).name,
                                      "weights": [float(w) for w in z["weights"]]})
    print(f"wrote {args.out} (weights checksum {checksum[:16]})")


if __name__ == "__main__":
    main()
