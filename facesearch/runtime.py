"""Run a frozen torch module through ONNX Runtime on CPU, where that is faster.

On this project's 2-core CPUs ONNX Runtime runs MobileFaceNet and the MTCNN nets several
times faster than eager PyTorch (see README, Performance), with outputs equal to ~1e-5.
:func:`accelerate` exports a module once to ``~/.cache/facesearch/onnx/<hash>.onnx`` (``$FACESEARCH_ONNX_CACHE``
elsewhere; the hash covers
its weights, input shape and library versions) and returns a callable with the module's signature
(tensors in, tensor or tuple of tensors out). It returns the module itself when ONNX
Runtime is not installed, the device is not the CPU, ``$FACESEARCH_RUNTIME=torch``, or the
export fails, so callers never need a second code path.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from pathlib import Path
from typing import Sequence

import torch

RUNTIME_ENV = "FACESEARCH_RUNTIME"  # "onnx" (default where available) or "torch"
CACHE_DIR = Path(os.environ.get("FACESEARCH_ONNX_CACHE", Path.home() / ".cache" / "facesearch" / "onnx"))
log = logging.getLogger(__name__)


def onnx_available() -> bool:
    if os.environ.get(RUNTIME_ENV, "onnx").lower() == "torch":
        return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxModule:
    """A callable over an ONNX Runtime session that takes and returns torch tensors."""

    def __init__(self, model: bytes | str, n_outputs: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.n_outputs = n_outputs

    def __call__(self, *xs: torch.Tensor):
        feeds = {n: x.detach().float().contiguous().numpy() for n, x in zip(self.input_names, xs)}
        outs = [torch.from_numpy(o) for o in self.session.run(None, feeds)]
        return outs[0] if self.n_outputs == 1 else tuple(outs)


def export_onnx(module: torch.nn.Module, example: torch.Tensor, dynamic: Sequence[int], n_outputs: int = 1) -> bytes:
    """ONNX bytes of ``module`` traced on ``example``, with input axes ``dynamic`` free."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buf, input_names=["x"], opset_version=17,
                          output_names=[f"y{i}" for i in range(n_outputs)],
                          dynamic_axes={"x": {a: f"d{a}" for a in dynamic}}, dynamo=False)
    return buf.getvalue()


def module_key(module: torch.nn.Module, example: torch.Tensor, dynamic: Sequence[int]) -> str:
    """A hash of everything the exported graph depends on."""
    import onnxruntime

    h = hashlib.sha256(f"{torch.__version__} {onnxruntime.__version__} {type(module).__name__} "
                       f"{tuple(example.shape)} {tuple(dynamic)}".encode())
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def accelerate(module: torch.nn.Module, example: torch.Tensor, dynamic: Sequence[int] = (0,),
               n_outputs: int = 1, device: torch.device | str = "cpu"):
    """``module`` served by ONNX Runtime when possible (see module doc), else ``module``."""
    if torch.device(device).type != "cpu" or not onnx_available():
        return module
    try:
        path = CACHE_DIR / f"{module_key(module, example, dynamic)}.onnx"
        if path.is_file():
            try:
                return OnnxModule(str(path), n_outputs)
            except Exception:  # a damaged cache file: export again
                path.unlink(missing_ok=True)
        data = export_onnx(module, example, dynamic, n_outputs)
        try:  # cache for the next process; a read-only home only costs the export again
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            pass
        return OnnxModule(data, n_outputs)
    except Exception as e:  # an exporter or runtime gap must not break embedding
        log.warning("ONNX Runtime unavailable for %s (%s); using PyTorch", type(module).__name__, e)
        return module
