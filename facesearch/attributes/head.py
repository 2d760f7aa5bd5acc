"""A small classifier over face embeddings: logistic regression or a tiny MLP, stored as
numpy arrays in one ``.npz`` file together with its card (its whole configuration).

The network is ``layers`` of ``x @ W + b`` with ReLU between them (none after the last);
the last layer has one output, the logit of ``classes[1]``, so logistic regression is one
layer and scikit-learn's ``MLPClassifier`` (binary) is two or more.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..config import SHIPPED_GENDER_MODEL
from ..errors import EncoderError
from ..types import AttributeLabel


@dataclass(frozen=True)
class AttributeCard:
    """What a head predicts and from which embeddings, like the encoder's EncoderCard.

    ``encoder_model``/``encoder_weights`` rebuild the encoder whose embeddings it reads
    (``create_encoder``); ``encoder_checksum`` must match that encoder's. ``threshold``: the
    probability of ``classes[1]`` from which that class is answered (chosen on training data).
    """

    task: str                       # "gender"
    classes: tuple[str, ...]        # ("female", "male")
    encoder_model: str
    encoder_weights: str | None
    encoder_checksum: str
    embedding_dim: int
    kind: str                       # "logreg" or "mlp"
    threshold: float = 0.5
    flip: bool = True
    info: dict = field(default_factory=dict)  # training data, selection, metrics (free-form)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AttributeCard":
        return cls(**{**d, "classes": tuple(d["classes"])})


class AttributeHead:
    """``card`` + weights; :meth:`predict` maps embeddings to labelled scores."""

    def __init__(self, card: AttributeCard, layers: list[tuple[np.ndarray, np.ndarray]]):
        if len(card.classes) != 2 or layers[-1][0].shape[1] != 1 or layers[0][0].shape[0] != card.embedding_dim:
            raise EncoderError(f"{card.task} head: expected {card.embedding_dim} inputs and one output for two classes")
        self.card = card
        self.layers = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in layers]

    def probability(self, emb: np.ndarray) -> np.ndarray:
        """P(``classes[1]``) for each row of ``emb`` (N x embedding_dim)."""
        x = np.asarray(emb, np.float32).reshape(-1, self.card.embedding_dim)
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0)
        return 1.0 / (1.0 + np.exp(-np.clip(x[:, 0].astype(np.float64), -50, 50)))

    def predict(self, emb: np.ndarray) -> list[AttributeLabel]:
        """The answered class and its probability, per embedding."""
        neg, pos = self.card.classes
        return [AttributeLabel(pos, float(p)) if p >= self.card.threshold else AttributeLabel(neg, float(1 - p))
                for p in self.probability(emb)]

    def save(self, path: str | Path) -> None:
        arrays = {f"{k}{i}": a for i, (w, b) in enumerate(self.layers) for k, a in (("w", w), ("b", b))}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # np.savez on a name would append ".npz"
            np.savez(f, card=np.array(json.dumps(self.card.as_dict())), **arrays)


def load_head(path: str | Path | None = None) -> AttributeHead:
    """The head saved at ``path`` (default: the gender model shipped in the package)."""
    path = Path(path) if path else SHIPPED_GENDER_MODEL
    try:
        with np.load(path, allow_pickle=False) as z:
            card = AttributeCard.from_dict(json.loads(str(z["card"])))
            n = sum(1 for k in z.files if k.startswith("w"))
            layers = [(z[f"w{i}"], z[f"b{i}"]) for i in range(n)]
    except FileNotFoundError:
        raise EncoderError(f"attribute model not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EncoderError(f"{path} is not a facesearch attribute model ({e.__class__.__name__}: {e})") from None
    return AttributeHead(card, layers)
