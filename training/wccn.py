"""Within-class covariance normalisation (WCCN), folded into the encoder's last layer.

    python -m training.wccn runs/f5pair/best.pt ../shared/data/facecom/train \
        runs/f5pair/wccn.pt [--alpha 0.125 | --choose-alpha]

Directions in which photos of one person vary (distortions, pose, light) are shrunk
before cosine similarity: embeddings are mapped by ``V diag(w) ** -alpha`` where ``V, w``
are the eigenvectors and eigenvalues of the within-identity covariance of the training
embeddings (alpha 0.5 is full whitening, 0 changes nothing). The map is linear, so it
commutes with flip-averaging and is folded into MobileFaceNet's final 1x1 conv and
BatchNorm: same network, same speed, no extra step at query time.
"""
from __future__ import annotations

import argparse
import logging

import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights

from facesearch.encoders.torch_net import torch_encoder
from facesearch.encoders.checkpoint import net_from_checkpoint, read_checkpoint, save_checkpoint
from facesearch.evaluation.protocols import protocols

from . import log_to_stderr
from .data import load_crops
from .export import KEEP

log = logging.getLogger(__name__)


def fit_wccn(emb: np.ndarray, labels: np.ndarray, alpha: float, ridge: float = 1e-4) -> np.ndarray:
    """D x D projection (embeddings @ P) from identities with two or more photos."""
    groups = [emb[labels == c] for c in np.unique(labels)]
    centred = np.concatenate([g - g.mean(0) for g in groups if len(g) > 1])
    w, v = np.linalg.eigh(np.cov(centred.T) + ridge * np.eye(emb.shape[1]))
    return (v / w ** alpha).astype(np.float32)


def choose_alpha(emb: np.ndarray, crops, alphas=(0.0, 0.125, 0.25, 0.375, 0.5)) -> float:
    """Alpha with the best mean protocol-A top-1 when fitted on half the identities and
    scored on the other half, both ways round (no validation data involved)."""
    scores = {a: [] for a in alphas}
    for half in (0, 1):
        fit = crops.labels % 2 == half
        for a in alphas:
            e = emb[~fit] @ fit_wccn(emb[fit], crops.labels[fit], a)
            r = protocols(e / np.linalg.norm(e, axis=1, keepdims=True), crops.subset(~fit))
            scores[a].append(r["A"]["top1"])
            log.info("alpha %.3f, fitted on half %d: A %.4f B %.4f", a, half, r["A"]["top1"], r["B"]["top1"])
    return max(alphas, key=lambda a: np.mean(scores[a]))


@torch.no_grad()
def fold_projection(net: torch.nn.Module, proj: np.ndarray) -> None:
    """Make ``net(x)`` return ``net(x) @ proj``: rewrite conv3 + bn (MobileFaceNet's head)."""
    conv, bn = getattr(net, "conv3", None), getattr(net, "bn", None)
    if not isinstance(conv, torch.nn.Conv2d) or not isinstance(bn, torch.nn.BatchNorm2d):
        raise ValueError(f"cannot fold a projection into {net.__class__.__name__} (needs conv3 + bn)")
    p = torch.as_tensor(proj, dtype=torch.float32).T  # out x in
    weight, bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)  # bn(conv(x)) as one conv
    conv.weight.copy_((p @ weight.flatten(1)).view_as(conv.weight))
    conv.bias = torch.nn.Parameter(p @ bias)
    bn.weight.fill_(1), bn.bias.zero_(), bn.running_mean.zero_()
    bn.running_var.fill_(1 - bn.eps)  # bn is now the identity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("train_dir", help="labelled photos to fit on (FACECOM layout or person folders)")
    ap.add_argument("out")
    ap.add_argument("--alpha", type=float, default=0.125)
    ap.add_argument("--choose-alpha", action="store_true", help="pick alpha on split training identities")
    args = ap.parse_args()
    log_to_stderr()
    ckpt = read_checkpoint(args.checkpoint)
    net = net_from_checkpoint(ckpt)
    crops = load_crops(args.train_dir, net.preprocess.size)
    emb = torch_encoder(net, checksum="fit").embed(crops.crops)
    if args.choose_alpha:
        args.alpha = choose_alpha(emb, crops)
    fold_projection(net, fit_wccn(emb, crops.labels, args.alpha))
    extra = {k: ckpt[k] for k in KEEP if k in ckpt}
    save_checkpoint(args.out, net, **extra, wccn={"alpha": args.alpha, "fit_on": args.train_dir,
                                                  "photos": int(len(emb))})
    log.info("wrote %s (WCCN alpha %s, fitted on %d photos)", args.out, args.alpha, len(emb))


if __name__ == "__main__":
    main()
