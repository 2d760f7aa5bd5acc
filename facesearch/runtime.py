"""Run a frozen torch module through ONNX Runtime on CPU, where that is faster.

On this project's 2-core CPUs ONNX Runtime runs MobileFaceNet about 2x and the MTCNN nets
about 1.5x faster than eager PyTorch (README, Performance), with outputs equal to ~1e-6.

:func:`accelerate` wraps a module in :class:`Accelerated`: calls run in PyTorch until
``after`` inputs have gone through (a one-photo ``facesearch query`` never pays for
importing ONNX Runtime and opening sessions), then through an ONNX Runtime session. The
export is cached in ``~/.cache/facesearch/onnx/<hash>.onnx`` (``$FACESEARCH_ONNX_CACHE``),
keyed by the weights, input shape and library versions. Without ONNX Runtime, on a GPU,
with ``$FACESEARCH_RUNTIME=torch``, or when the export fails, PyTorch keeps serving.
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

from .files import atomic_write

RUNTIME_ENV = "FACESEARCH_RUNTIME"  # "onnx" (default where available) or "torch"
SWITCH_AFTER = 32  # inputs served by PyTorch before ONNX Runtime takes over
EXPORT_REVISION = 2  # part of the cache key: raise it when the graph exported for the same weights changes
CACHE_DIR = Path(os.environ.get("FACESEARCH_ONNX_CACHE", Path.home() / ".cache" / "facesearch" / "onnx"))
log = logging.getLogger(__name__)


def torch_requested() -> bool:
    return os.environ.get(RUNTIME_ENV, "onnx").lower() == "torch"


def onnx_available() -> bool:
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
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not starve torch
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self.n_outputs = n_outputs

    def __call__(self, x: torch.Tensor):
        outs = [torch.from_numpy(o) for o in self.session.run(None, {"x": x.detach().float().contiguous().numpy()})]
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

    h = hashlib.sha256(f"{EXPORT_REVISION} {torch.__version__} {onnxruntime.__version__} {type(module).__name__} "
                       f"{tuple(example.shape)} {tuple(dynamic)}".encode())
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


class Accelerated:
    """``module``'s drop-in: PyTorch for the first ``after`` inputs, then ONNX Runtime."""

    def __init__(self, module, example, dynamic, n_outputs, after):
        self.module, self.example, self.dynamic, self.n_outputs = module, example, dynamic, n_outputs
        self.after, self.seen = after, 0
        self.fast: OnnxModule | None = None
        self.enabled = True
        self._maybe_switch()

    @property
    def backend(self) -> str:
        return "onnxruntime" if self.fast is not None else "torch"

    def switch_now(self) -> None:
        """Use ONNX Runtime from the next call on, whatever the count."""
        self.after = 0

    def _maybe_switch(self) -> None:
        if self.enabled and self.fast is None and self.seen >= self.after:
            self.fast = onnx_session(self.module, self.example, self.dynamic, self.n_outputs)
            self.enabled = self.fast is not None

    def __call__(self, x: torch.Tensor):
        self.seen += len(x)
        self._maybe_switch()
        return self.fast(x) if self.fast is not None else self.module(x)


def accelerate(module: torch.nn.Module, example: torch.Tensor, dynamic: Sequence[int] = (0,),
               n_outputs: int = 1, device: torch.device | str = "cpu", after: float = SWITCH_AFTER):
    """``module`` wrapped in :class:`Accelerated` on CPU; ``module`` itself on a GPU or
    when ``$FACESEARCH_RUNTIME=torch`` (read now: the choice is made once per module)."""
    if torch.device(device).type != "cpu" or torch_requested():
        return module
    return Accelerated(module, example, tuple(dynamic), n_outputs, after)


def onnx_session(module: torch.nn.Module, example: torch.Tensor, dynamic: Sequence[int],
                 n_outputs: int) -> OnnxModule | None:
    """An ONNX Runtime twin of ``module`` (exported or read from the cache), or None."""
    if not onnx_available():
        return None
    try:
        path = CACHE_DIR / f"{module_key(module, example, dynamic)}.onnx"
        if path.is_file():
            try:
                return OnnxModule(str(path), n_outputs)
            except Exception:  # a damaged cache file: export again
                path.unlink(missing_ok=True)
        data = export_onnx(module, example, dynamic, n_outputs)
        try:  # cache for the next process; a read-only home only costs the export again
            with atomic_write(path) as f:
                f.write(data)
        except OSError:
            pass
        return OnnxModule(data, n_outputs)
    except Exception as e:  # an exporter or runtime gap must not break embedding
        log.warning("ONNX Runtime unavailable for %s (%s); using PyTorch", type(module).__name__, e)
        return None
