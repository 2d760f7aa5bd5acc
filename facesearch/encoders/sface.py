"""SFace (Zhong et al. 2021; ONNX by OpenCV Zoo, Apache-2.0): ``--model sface``.

The package ships OpenCV Zoo's int8 block-quantised graph as published (11 MB; licence and
attribution beside it, ``weights/LICENSE-sface``, ``weights/NOTICE.md``). As published it
takes a batch of one and lists its weights among its inputs, so it is rewritten once on load
(cached in ``settings().onnx_cache``): weights dequantised to float32 and folded, ``data`` the
only input, the batch free. Same outputs to ~2e-6, and float kernels in every path.
Input: RGB 0..255, ArcFace 112 template (the graph normalises itself); output 128-d.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import SFACE_GRAPH
from ..errors import EncoderError
from ..files import atomic_write
from ..runtime import OnnxModel
from ..config import settings
from ..types import Preprocess
from .graphs import GraphNet
from .registry import register_encoder

SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"  # the published file
RAW_PIXELS = Preprocess(112, (0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255))  # x / 255 * 255: raw 0..255
REWRITE_REVISION = 1  # part of the cache name: raise it when the rewrite changes


def _dequantise(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """DequantizeLinear (opset 21) of constant blocks: each ``block`` entries along ``axis``
    share one scale and zero point."""
    if block:
        scale = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(q.shape[axis]), axis=axis)
    elif scale.ndim == 1 and q.ndim > 1:  # per-axis
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)).astype(np.float32)


def rewrite(src: bytes | str) -> bytes:
    """The published graph with constant DequantizeLinear/Reshape nodes folded into float32
    weights, only ``data`` as input and a free batch axis."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(src) if isinstance(src, bytes) else onnx.load(src)
    g = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    kept = []
    for node in g.node:
        if node.op_type in ("DequantizeLinear", "Reshape") and all(i in consts for i in node.input if i):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            x = [consts[i] for i in node.input if i]
            if node.op_type == "Reshape":
                consts[node.output[0]] = x[0].reshape(x[1])
            else:
                zero = x[2] if len(x) > 2 else np.zeros_like(x[1])
                consts[node.output[0]] = _dequantise(x[0], x[1], zero, attrs.get("axis", 1), attrs.get("block_size", 0))
        else:
            kept.append(node)
    used = {i for n in kept for i in n.input}
    del g.node[:]
    g.node.extend(kept)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items() if k in used)
    data = [i for i in g.input if i.name == "data"]
    del g.input[:]
    g.input.extend(data)
    del g.value_info[:]
    for v in (*g.input, *g.output):
        v.type.tensor_type.shape.dim[0].dim_param = "N"
    return model.SerializeToString()


def _cache_path() -> Path:
    return settings().onnx_cache / f"sface-{SHA256[:16]}-r{REWRITE_REVISION}.onnx"


def float_graph(src: Path = SFACE_GRAPH) -> str | bytes:
    """The rewritten graph: its cache file, made now if absent (bytes if it cannot be written)."""
    path = _cache_path()
    if path.is_file():
        return str(path)
    data = rewrite(str(src))
    try:
        with atomic_write(path) as f:
            f.write(data)
    except OSError:
        return data
    return str(path)


@register_encoder("sface")
def sface(variant: str | None, weights: str | None) -> GraphNet:
    if variant or weights:
        raise EncoderError("sface has no variants or --weights: it is the published OpenCV Zoo graph")
    if not SFACE_GRAPH.is_file():
        raise EncoderError(f"the SFace graph is missing from the installation ({SFACE_GRAPH})")
    try:
        model = OnnxModel(float_graph())
    except Exception:  # a damaged cache file: rewrite again
        _cache_path().unlink(missing_ok=True)
        model = OnnxModel(float_graph())
    return GraphNet(model.first, arch="sface", preprocess=RAW_PIXELS, embedding_dim=128, weights_checksum=SHA256)
