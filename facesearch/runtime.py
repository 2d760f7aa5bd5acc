"""ONNX Runtime: the one runtime every network runs in (query, index, batches, the server).

The shipped networks (the encoder, MTCNN's three nets) are ONNX graphs in the package
(``facesearch/weights/*.onnx``, exported once by ``python -m training.export_onnx``), so a
query needs neither PyTorch nor an export. A network built in PyTorch (a checkpoint, a timm
backbone, a plugin) is exported once and cached (:mod:`facesearch.encoders.torch_net`).
"""
from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from .config import TRAIN_EXTRA, settings
from .errors import ExtraMissingError


def require_torch(feature: str) -> None:
    """Refuse ``feature`` with one line saying what to install when PyTorch is absent: the
    base install runs the shipped models in ONNX Runtime; training and PyTorch models need
    the ``train`` extra."""
    if find_spec("torch") is None:
        raise ExtraMissingError(f"{feature} needs PyTorch, which the base install leaves out: {TRAIN_EXTRA}")


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OnnxModel:
    """A callable over an ONNX Runtime CPU session: numpy arrays in (one per graph input,
    in order), a tuple of numpy arrays out."""

    def __init__(self, model: bytes | str | Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # as many threads as this process may use (set explicitly: ONNX Runtime's own default
        # also pins its threads to cores, which four sessions and a server's threads share)
        opts.intra_op_num_threads = settings().threads or _usable_cpus()
        opts.log_severity_level = 3
        # idle threads must not spin: a server switches between ONNX Runtime, FAISS and numpy
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model) if isinstance(model, Path) else model, opts,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        feed = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in zip(self.inputs, arrays)}
        return tuple(self.session.run(None, feed))

    def first(self, *arrays: np.ndarray) -> np.ndarray:
        """The first output alone (an encoder's embedding)."""
        return self(*arrays)[0]
