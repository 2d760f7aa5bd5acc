"""`--model file.onnx`: a graph carrying its facesearch card runs without PyTorch; the card
(preprocessing, size, checksum, flip) comes from the graph's metadata."""
from __future__ import annotations

import numpy as np
import pytest

from facesearch.encoders import EncoderError, create_encoder
from facesearch.encoders.graphs import META, card_metadata
from facesearch.types import Preprocess

torch = pytest.importorskip("torch")


def tiny_graph(path, metadata):
    from facesearch.encoders.torch_net import export_onnx

    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(1), torch.nn.Linear(12, 8))
    torch.manual_seed(0)
    path.write_bytes(export_onnx(net.eval(), torch.zeros(2, 3, 16, 16), metadata=metadata))
    return path


def test_graph_with_its_card_is_an_encoder(tmp_path):
    path = tiny_graph(tmp_path / "g.onnx", card_metadata("tiny", Preprocess(16), 8, "abc123"))
    enc = create_encoder(str(path))
    assert (enc.card.arch, enc.card.checksum, enc.card.flip, enc.embedding_dim) == ("tiny", "abc123", True, 8)
    assert enc.card.model == str(path.resolve())
    e = enc.embed(np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    assert e.shape == (3, 8) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)


def test_graph_that_flips_inside_is_not_flipped_again(tmp_path):
    meta = {**card_metadata("tiny", Preprocess(16), 8, "abc123"), f"{META}flip": "inside"}
    assert create_encoder(str(tiny_graph(tmp_path / "g.onnx", meta))).card.flip is False


def test_graph_without_a_card_is_refused(tmp_path):
    with pytest.raises(EncoderError, match="carries no facesearch encoder card"):
        create_encoder(str(tiny_graph(tmp_path / "g.onnx", None)))
    (tmp_path / "bad.onnx").write_text("not a graph")
    with pytest.raises(EncoderError, match="not an ONNX graph"):
        create_encoder(str(tmp_path / "bad.onnx"))
