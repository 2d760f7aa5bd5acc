"""The models a gallery runs: its encoder (the database's own unless another is given, and
then only one that makes the same embeddings), the face detector, the photo -> vector
pipeline made from both (once: the detector loads once) and the shipped gender model."""
from __future__ import annotations

from ..errors import GalleryError
from ..faces.pipeline import Embedder
from .attributes import Attributes


def create_encoder(model: str | None, weights: str | None, flip: bool):
    from ..encoders import create_encoder as create  # here: ONNX Runtime loads only in commands that embed

    return create(model, weights, flip=flip)


class Models:
    """The encoder, detector, pipelines and gender model of ``gallery`` (its ``meta`` says
    which encoder and detector the database was built with)."""

    def __init__(self, gallery, detector: str | None = None):
        self.gallery = gallery
        self.chosen_detector = detector  # None: the database's
        self._encoder = None
        self._attributes: Attributes | None = None
        self.embedders: dict[bool, Embedder] = {}  # by require_face

    def use(self, encoder) -> None:
        if self.gallery.meta is not None:
            self.check(encoder)
        self._encoder = encoder

    def check(self, encoder) -> None:
        want, got = self.gallery.meta.card, encoder.card
        if not want.same_embeddings(got):
            raise GalleryError(
                f"{self.gallery.store.label} was built with encoder {want}; this is {got}. Query without "
                "--model to use the database's encoder, or build a new database (--db) for this one.")

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def encoder(self):
        if self._encoder is None:
            card = self.gallery._require_meta().card
            self._encoder = create_encoder(card.model, card.weights, card.flip)
            self.check(self._encoder)
        return self._encoder

    @property
    def detector(self) -> str:
        meta = self.gallery.meta
        return self.chosen_detector or (meta.detector if meta else "mtcnn")

    def embedder(self, require_face: bool = False) -> Embedder:
        e = self.embedders.get(require_face)
        if e is None or e.encoder is not self.encoder:
            e = self.embedders[require_face] = Embedder(self.encoder, self.detector, require_face)
        return e

    @property
    def attributes(self) -> Attributes:
        if self._attributes is None:
            self._attributes = Attributes()
        return self._attributes

    def share_with(self, other: "Models") -> None:
        """Give ``other`` (a twin gallery's) this encoder, loaded now, and these pipelines."""
        if self._encoder is not None or self.gallery.meta is not None:
            other._encoder = self.encoder
        other.embedders = self.embedders
