import numpy as np
import pytest

from facesearch.attributes import AttributeCard, AttributeHead, load_head
from facesearch.errors import EncoderError


def card(**kw):
    return AttributeCard(**{"task": "gender", "classes": ("female", "male"), "encoder_model": "fake",
                            "encoder_weights": None, "encoder_checksum": "abc", "embedding_dim": 2,
                            "kind": "logreg", **kw})


def test_head_roundtrip_and_threshold(tmp_path):
    head = AttributeHead(card(threshold=0.6), [(np.array([[4.0], [0.0]]), np.array([0.0]))])
    head.save(tmp_path / "h.npz")
    again = load_head(tmp_path / "h.npz")
    assert again.card == head.card
    labels = again.predict(np.array([[1.0, 0.0], [-1.0, 0.0], [0.05, 0.0]]))
    assert [x.label for x in labels] == ["male", "female", "female"]  # p(male) 0.55 < threshold 0.6
    assert labels[0].score == pytest.approx(1 / (1 + np.exp(-4)))


def test_mlp_layers_use_relu_between():
    head = AttributeHead(card(kind="mlp"), [(np.eye(2), np.zeros(2)), (np.array([[1.0], [-1.0]]), np.zeros(1))])
    assert head.probability(np.array([[-3.0, 0.0]]))[0] == pytest.approx(0.5)  # relu(-3) = 0


def test_wrong_files_and_shapes_are_clear_errors(tmp_path):
    with pytest.raises(EncoderError, match="not found"):
        load_head(tmp_path / "missing.npz")
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(EncoderError, match="not a facesearch attribute model"):
        load_head(tmp_path / "x.npz")
    with pytest.raises(EncoderError, match="one output"):
        AttributeHead(card(), [(np.zeros((2, 3)), np.zeros(3))])


def test_the_shipped_head_reads_the_shipped_encoder():
    from facesearch.config import SHIPPED_MODEL
    from facesearch.files import sha256_file

    head = load_head()
    assert head.card.encoder_model == "default" and head.card.encoder_checksum == sha256_file(SHIPPED_MODEL)
