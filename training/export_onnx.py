"""Export the networks facesearch ships (or any checkpoint) as ONNX graphs, once.

    python -m training.export_onnx                       # the shipped graphs, in facesearch/weights
    python -m training.export_onnx --model runs/x/best.pt out.onnx

The shipped graphs: ``mobilefacenet_facecom.onnx`` (from ``mobilefacenet_facecom.pt``; its
metadata records that file's SHA-256, the checksum databases built by the PyTorch encoder
store, so they keep accepting its embeddings) and ``mtcnn_{pnet,rnet,onet}.onnx`` (from
facenet-pytorch's weights, MIT). Prints each graph's SHA-256 for the model card.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from facesearch.config import MTCNN_GRAPHS, SHIPPED_GRAPH, SHIPPED_MODEL
from facesearch.encoders import load_net
from facesearch.encoders.base import file_checksum
from facesearch.encoders.graphs import card_metadata
from facesearch.encoders.torch_net import export_onnx, fuse_batchnorm
from facesearch.files import atomic_write

from . import log_to_stderr
from .mtcnn_nets import load as load_mtcnn

log = logging.getLogger("training.export_onnx")  # not "__main__" under -m
# (example input, free input axes, outputs) of each MTCNN net
MTCNN_SHAPES = {"pnet": ((1, 3, 24, 24), (0, 2, 3), 2), "rnet": ((2, 3, 24, 24), (0,), 2),
                "onet": ((2, 3, 48, 48), (0,), 3)}


def export_encoder(checkpoint: str | Path, out: str | Path) -> str:
    """``checkpoint``'s encoder as a graph carrying its card; returns the graph's SHA-256."""
    net = load_net(str(checkpoint)).eval()
    size = net.preprocess.size
    meta = card_metadata(net.arch, net.preprocess, int(net.embedding_dim), file_checksum(checkpoint))
    return _write(out, export_onnx(fuse_batchnorm(net), torch.zeros(2, 3, size, size), metadata=meta))


def export_mtcnn(name: str, out: str | Path) -> str:
    example, dynamic, n_outputs = MTCNN_SHAPES[name]
    return _write(out, export_onnx(load_mtcnn(name), torch.zeros(example), dynamic, n_outputs,
                                   metadata={"facesearch.source": f"facenet-pytorch 2.5.3 data/{name}.pt (MIT)"}))


def _write(out: str | Path, data: bytes) -> str:
    with atomic_write(out) as f:
        f.write(data)
    return file_checksum(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a facesearch checkpoint to export (default: the shipped graphs)")
    ap.add_argument("out", nargs="?", help="the graph to write (with --model)")
    args = ap.parse_args()
    log_to_stderr()
    if args.model:
        if not args.out:
            ap.error("--model needs OUT")
        log.info("%s  %s", export_encoder(args.model, args.out), args.out)
        return
    log.info("%s  %s", export_encoder(SHIPPED_MODEL, SHIPPED_GRAPH), SHIPPED_GRAPH.name)
    for name, path in MTCNN_GRAPHS.items():
        log.info("%s  %s", export_mtcnn(name, path), path.name)


if __name__ == "__main__":
    main()
