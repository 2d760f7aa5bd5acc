"""Attributes (gender) of faces: the head of :mod:`facesearch.attributes` on the embedding
of the encoder it was trained on.

When faces were embedded by that very encoder (a gallery built with the shipped model) the
head reads their vectors as they are; otherwise the aligned crops are embedded again by
the head's encoder (crops are resized: every template is the same 112-px one, scaled).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from PIL import Image

from ..attributes import AttributeHead, load_head
from ..config import EMBED_BATCH
from ..errors import EncoderError
from ..faces.pipeline import Embedded, Embedder, label
from ..types import AlignedFace, AttributeLabel, EncoderCard, FaceAnalysis, FileError, PhotoAnalysis


class Attributes:
    """A loaded attribute head (``model``: its ``.npz`` file; default: the shipped one) and,
    made when first needed, the encoder it reads."""

    def __init__(self, model: str | None = None):
        self.head: AttributeHead = load_head(model)
        self._encoder = None

    @property
    def encoder(self):
        if self._encoder is None:
            from ..encoders import create_encoder  # ONNX Runtime: loaded only when a face is analysed

            card = self.head.card
            encoder = create_encoder(card.encoder_model, card.encoder_weights, flip=card.flip)
            if encoder.card.checksum != card.encoder_checksum:
                raise EncoderError(f"the {card.task} model was trained on embeddings of {card.encoder_model} "
                                   f"(checksum {card.encoder_checksum[:12]}), which is now {encoder.card}")
            self._encoder = encoder
        return self._encoder

    def reads(self, card: EncoderCard) -> bool:
        """Whether vectors of an encoder with ``card`` are what the head reads."""
        return card.checksum == self.head.card.encoder_checksum and card.flip == self.head.card.flip

    def label(self, matches: list, pairs: list, card: EncoderCard) -> None:
        """Set each FaceMatch's ``attributes`` from its (aligned face, vector) pair."""
        labels = self.of_faces([f for f, _ in pairs], np.stack([v for _, v in pairs]), card)
        for match, found in zip(matches, labels):
            match.attributes = found

    def of_faces(self, faces: list[AlignedFace], vectors: np.ndarray | None,
                 card: EncoderCard | None) -> list[dict[str, AttributeLabel]]:
        """``{task: label}`` per face; ``vectors`` (from the encoder with ``card``) are used
        when they are the head's input, else the crops are embedded again."""
        if not faces:
            return []
        if vectors is None or card is None or not self.reads(card):
            size = self.encoder.preprocess.size
            crops = [f.crop if f.crop.shape[0] == size else
                     np.asarray(Image.fromarray(f.crop).resize((size, size), Image.BILINEAR)) for f in faces]
            vectors = self.encoder.embed(np.stack(crops))
        return [{self.head.card.task: p} for p in self.head.predict(np.asarray(vectors))]

    def analyze(self, photos: list, detector: str = "mtcnn", batch_size: int = EMBED_BATCH
                ) -> Iterator[list[PhotoAnalysis | FileError]]:
        """Every face of each photo with its attributes, one list per batch, in input order."""
        embedder = Embedder(self.encoder, detector)
        for results in embedder.batches(photos, batch_size, all_faces=True):
            out: list[PhotoAnalysis | FileError] = []
            for r in results:
                if not isinstance(r, Embedded):
                    out.append(r)
                    continue
                faces = [f for f, _ in r.faces]
                labels = self.of_faces(faces, np.stack([v for _, v in r.faces]), self.encoder.card)
                out.append(PhotoAnalysis(label(r.path), [FaceAnalysis(f, a) for f, a in zip(faces, labels)], r.main))
            yield out
