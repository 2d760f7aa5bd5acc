"""ONNX Runtime, the one runtime: shipped graphs equal the PyTorch networks they came from."""
from __future__ import annotations

import numpy as np
import pytest

from facesearch.config import MTCNN_GRAPHS, SHIPPED_GRAPH, SHIPPED_MODEL
from facesearch.files import sha256_file
from facesearch.runtime import OnnxModel


def test_shipped_graphs_run_with_a_free_batch():
    pnet, rnet, onet = (OnnxModel(MTCNN_GRAPHS[n]) for n in ("pnet", "rnet", "onet"))
    reg, probs = pnet(np.zeros((2, 3, 31, 45), np.float32))
    assert reg.shape[:2] == (2, 4) and probs.shape[:2] == (2, 2)
    assert [o.shape for o in onet(np.zeros((5, 3, 48, 48), np.float32))] == [(5, 4), (5, 10), (5, 2)]
    assert OnnxModel(SHIPPED_GRAPH).first(np.zeros((3, 3, 112, 112), np.float32)).shape == (3, 128)


def test_calls_on_a_share_of_the_cpus_give_the_same_outputs():
    """Workers running side by side ask for fewer threads (a session per count); same numbers."""
    from facesearch.runtime import call_threads, share_cpus, usable_cpus

    model = OnnxModel(SHIPPED_GRAPH)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 112, 112)).astype(np.float32)
    every = model.first(x)
    with call_threads(1):
        one = model.first(x)
    assert set(model._sessions) == {usable_cpus(), 1} or usable_cpus() == 1
    np.testing.assert_allclose(one, every, atol=1e-6)
    assert share_cpus(2) == max(1, usable_cpus() // 2) and share_cpus(10 ** 6) == 1


def test_shipped_encoder_graph_records_the_checkpoints_checksum():
    """Databases built by the PyTorch encoder stored the checkpoint file's SHA-256: the graph
    claims that identity, so they keep accepting its embeddings."""
    meta = OnnxModel(SHIPPED_GRAPH).metadata
    assert meta["facesearch.checksum"] == sha256_file(SHIPPED_MODEL)
    assert meta["facesearch.arch"] == "mobilefacenet" and meta["facesearch.embedding_dim"] == "128"


@pytest.mark.slow  # PyTorch networks built and run
def test_shipped_graphs_equal_the_pytorch_networks():
    torch = pytest.importorskip("torch")
    pytest.importorskip("facenet_pytorch")
    from training.mtcnn_nets import load

    rng = np.random.default_rng(0)
    for name, shape in (("pnet", (2, 3, 37, 29)), ("rnet", (4, 3, 24, 24)), ("onet", (3, 3, 48, 48))):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        with torch.no_grad():
            want = [t.numpy() for t in load(name)(torch.from_numpy(x))]
        for w, g in zip(want, OnnxModel(MTCNN_GRAPHS[name])(x)):
            np.testing.assert_allclose(g, w, atol=1e-5)


@pytest.mark.slow
def test_shipped_encoder_graph_gives_the_pytorch_encoders_vectors(monkeypatch):
    """Same photo, same vector, whichever built the database (to ~1e-5)."""
    pytest.importorskip("torch")
    from facesearch.encoders import create_encoder, load_net
    from facesearch.encoders.torch_net import torch_encoder

    crops = np.random.default_rng(0).integers(0, 256, (6, 112, 112, 3), dtype=np.uint8)
    graph = create_encoder("default")
    monkeypatch.setenv("FACESEARCH_RUNTIME", "torch")
    eager = torch_encoder(load_net("default"), sha256_file(SHIPPED_MODEL), model="default")
    assert eager.card == graph.card
    np.testing.assert_allclose(graph.embed(crops), eager.embed(crops), atol=2e-5)
