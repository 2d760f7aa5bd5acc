"""ONNX Runtime: the one runtime every network runs in (query, index, batches, the server).

The shipped networks (the encoder, MTCNN's three nets) are ONNX graphs in the package
(``facesearch/weights/*.onnx``, exported once by ``python -m training.export_onnx``), so a
query needs neither PyTorch nor an export. A network built in PyTorch (a checkpoint, a timm
backbone, a plugin) is exported once and cached (:mod:`facesearch.encoders.torch_net`).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.util import find_spec
from pathlib import Path
from typing import Iterator

import numpy as np

from .config import TRAIN_EXTRA, settings
from .errors import ExtraMissingError


def require_torch(feature: str) -> None:
    """Refuse ``feature`` with one line saying what to install when PyTorch is absent: the
    base install runs the shipped models in ONNX Runtime; training and PyTorch models need
    the ``train`` extra."""
    if find_spec("torch") is None:
        raise ExtraMissingError(f"{feature} needs PyTorch, which the base install leaves out: {TRAIN_EXTRA}")


# Threads each network call may use in this thread (None: every CPU). Set by whoever runs
# several calls at once (the pipeline's workers) so that they share the CPUs instead of each
# asking for all of them.
_call_threads: ContextVar[int | None] = ContextVar("facesearch_call_threads", default=None)


@contextmanager
def call_threads(n: int | None) -> Iterator[None]:
    """Within this block (in this thread), network calls use ``n`` threads (None: the default)."""
    token = _call_threads.set(n)
    try:
        yield
    finally:
        _call_threads.reset(token)


def share_cpus(workers: int) -> int:
    """Threads per network call when ``workers`` calls run at once: the CPUs, shared out."""
    return max(1, usable_cpus() // max(1, workers))


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OnnxModel:
    """A callable over ONNX Runtime CPU sessions: numpy arrays in (one per graph input,
    in order), a tuple of numpy arrays out.

    A session's thread count is fixed when it opens, so the model keeps one session per
    count asked for (:func:`call_threads`); the default one opens at once. The graph is
    small beside the activations: a second session costs milliseconds and a few MB."""

    def __init__(self, model: bytes | str | Path):
        self._model = str(model) if isinstance(model, Path) else model
        self._threads = settings().threads or usable_cpus()
        self._sessions: dict[int, object] = {}
        self._opening = threading.Lock()
        self.session = self._session(self._threads)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def _session(self, threads: int):
        session = self._sessions.get(threads)
        if session is not None:
            return session
        import onnxruntime as ort

        with self._opening:
            if threads not in self._sessions:
                opts = ort.SessionOptions()
                # set explicitly: ONNX Runtime's own default also pins its threads to cores,
                # which several sessions and a server's threads share
                opts.intra_op_num_threads = threads
                opts.log_severity_level = 3
                # idle threads must not spin: a server switches between ONNX Runtime, FAISS and numpy
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[threads] = ort.InferenceSession(self._model, opts, providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def __call__(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        feed = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in zip(self.inputs, arrays)}
        threads = _call_threads.get()
        session = self.session if threads is None else self._session(min(threads, self._threads))
        return tuple(session.run(None, feed))

    def first(self, *arrays: np.ndarray) -> np.ndarray:
        """The first output alone (an encoder's embedding)."""
        return self(*arrays)[0]
