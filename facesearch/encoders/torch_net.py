"""PyTorch networks as encoders (checkpoints, timm backbones, plugins): needs the ``train`` extra.

A PyTorch network is exported to ONNX once (cached in ``settings().onnx_cache``, keyed by its
weights, input size and library versions) and runs in ONNX Runtime like the shipped graphs;
``$FACESEARCH_RUNTIME=torch`` keeps it in PyTorch instead (for every path alike).
:func:`flip_embed` and :func:`to_model_input` are the embedding rule in torch, for training.
"""
from __future__ import annotations

import hashlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import EncoderError
from ..files import atomic_write
from ..runtime import OnnxModel
from ..config import settings
from ..types import Preprocess

EXPORT_REVISION = 3  # part of the cache key: raise it when the graph exported for the same weights changes
log = logging.getLogger(__name__)


def state_dict_checksum(net: torch.nn.Module) -> str:
    """SHA-256 over the state dict's names and tensor bytes, in order: for weights that
    come from no file (a download, built-in weights)."""
    h = hashlib.sha256()
    for name, t in net.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def load_state_dict(path: str | Path) -> dict:
    """Read a state dict from a plain ``.pt`` file or from a checkpoint's ``model`` entry."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise EncoderError(f"weights file not found: {path}") from None
    except Exception as e:  # pickle errors, zip errors: all mean "not a weights file"
        raise EncoderError(f"{path} is not a PyTorch weights file ({e.__class__.__name__})") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise EncoderError(f"{path} does not hold a state dict")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def fuse_batchnorm(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``net`` (in eval mode) with each BatchNorm folded into the conv before it:
    same outputs, a smaller graph. Falls back to ``net`` if it cannot be traced."""
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(net.eval())
    except Exception:  # not fx-traceable: run it as it is
        return net


def flip_embed(forward, x: torch.Tensor, mirrored: torch.Tensor | None) -> torch.Tensor:
    """L2-normalised ``forward(x) + forward(mirrored)`` (one pass over both), or of
    ``forward(x)`` alone when ``mirrored`` is None (training's validation; same rule as
    :meth:`facesearch.encoders.base.Encoder.embed`)."""
    if mirrored is None:
        e = forward(x).float()
    else:
        e = forward(torch.cat([x, mirrored])).float()
        e = e[:len(x)] + e[len(x):]
    return torch.nn.functional.normalize(e, dim=1)


def to_model_input(crops: np.ndarray, preprocess: Preprocess, device) -> torch.Tensor:
    """uint8 N x S x S x 3 crops -> normalised float N x 3 x S x S (channels_last)."""
    crops = np.ascontiguousarray(crops)
    x = torch.from_numpy(crops if crops.flags.writeable else crops.copy()).to(device)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(preprocess.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(preprocess.std, device=device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def export_onnx(module: torch.nn.Module, example: torch.Tensor, dynamic=(0,), n_outputs: int = 1,
                input_name: str = "x", metadata: dict | None = None) -> bytes:
    """ONNX bytes of ``module`` traced on ``example``, with input axes ``dynamic`` free and
    ``metadata`` (strings) in the graph's metadata_props."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buf, input_names=[input_name], opset_version=17,
                          output_names=[f"y{i}" for i in range(n_outputs)],
                          dynamic_axes={input_name: {a: f"d{a}" for a in dynamic}}, dynamo=False)
    if not metadata:
        return buf.getvalue()
    import onnx

    model = onnx.load_from_string(buf.getvalue())
    for k, v in metadata.items():
        model.metadata_props.add(key=k, value=str(v))
    return model.SerializeToString()


def module_key(module: torch.nn.Module, size: int) -> str:
    """A hash of everything the exported graph depends on."""
    import onnxruntime

    h = hashlib.sha256(f"{EXPORT_REVISION} {torch.__version__} {onnxruntime.__version__} {type(module).__name__} "
                       f"{size}".encode())
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def torch_forward(net: torch.nn.Module):
    """``net`` as a numpy forward: its cached ONNX export in ONNX Runtime, or PyTorch itself
    when ``$FACESEARCH_RUNTIME=torch`` or the export fails (logged)."""
    net = net.eval()
    size = net.preprocess.size
    if settings().runtime != "torch":
        try:
            return exported(net, size).first
        except Exception as e:  # an exporter gap must not break embedding
            log.warning("cannot export %s to ONNX (%s); running it in PyTorch", type(net).__name__, e)
    fused = fuse_batchnorm(net)

    @torch.inference_mode()
    def forward(x: np.ndarray) -> np.ndarray:
        return fused(torch.from_numpy(np.ascontiguousarray(x))).float().numpy()

    return forward


def exported(net: torch.nn.Module, size: int) -> OnnxModel:
    """``net``'s cached ONNX graph in a session (exported now if absent or damaged)."""
    path = settings().onnx_cache / f"{module_key(net, size)}.onnx"
    if path.is_file():
        try:
            return OnnxModel(path)
        except Exception:  # a damaged cache file: export again
            path.unlink(missing_ok=True)
    data = export_onnx(fuse_batchnorm(net), torch.zeros(2, 3, size, size))
    try:  # cache for the next process; a read-only home only costs the export again
        with atomic_write(path) as f:
            f.write(data)
    except OSError:
        pass
    return OnnxModel(data)


def torch_encoder(net: torch.nn.Module, checksum: str, flip: bool = True, model: str | None = None,
                  weights: str | None = None):
    """An :class:`~facesearch.encoders.base.Encoder` over a PyTorch network."""
    from ..types import EncoderCard
    from .base import Encoder

    card = EncoderCard(arch=net.arch, model=model or net.arch, weights=weights, checksum=checksum,
                       preprocess=net.preprocess, embedding_dim=int(net.embedding_dim), flip=flip)
    return Encoder(torch_forward(net), card)
