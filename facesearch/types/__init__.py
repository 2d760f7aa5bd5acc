"""Plain data passed between layers. No torch, no SQLAlchemy, no pydantic.

Results (:class:`Match`, :class:`QueryResult`, ...) are dataclasses for Python; their JSON
(``as_dict()``, ``--json``, the REST API) is defined once, as the records of
:mod:`.records`, loaded when a result is first written as JSON."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from . import records


@dataclass(frozen=True)
class Preprocess:
    """How an encoder wants its input: an aligned RGB crop of ``size`` pixels,
    scaled to [0, 1] then normalised channel-wise with ``mean`` and ``std``."""

    size: int = 112
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def as_dict(self) -> dict:
        return {"size": self.size, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        return cls(int(d["size"]), tuple(d["mean"]), tuple(d["std"]))


@dataclass(frozen=True)
class EncoderCard:
    """Who made a set of embeddings, like timm's ``pretrained_cfg``: carried by every
    encoder, stored with a gallery, compared before a query, enough to rebuild the encoder.

    ``model``/``weights`` are the spec it was built from (a family name such as
    ``timm:efficientnet_b0`` with a state dict, a checkpoint path, or ``default``);
    ``checksum`` is the SHA-256 of the weights file; without one, of the state dict's
    tensors (or the family's declared ``weights_checksum``).
    """

    arch: str
    model: str
    weights: str | None
    checksum: str
    preprocess: Preprocess
    embedding_dim: int
    flip: bool = True

    def same_embeddings(self, other: "EncoderCard") -> bool:
        """Whether vectors from ``other`` can be compared with ours."""
        return (self.checksum, self.embedding_dim, self.flip) == (other.checksum, other.embedding_dim, other.flip)

    def __str__(self) -> str:
        source = self.model + (f" --weights {self.weights}" if self.weights else "")
        return (f"{self.arch} from {source} (dim {self.embedding_dim}, {'flip-averaged' if self.flip else 'no flip'}, "
                f"checksum {self.checksum})")


class JsonResult:
    """A result with a JSON record (:mod:`.records`): ``record()`` builds it, importing the
    records (and pydantic) when the first result is written as JSON."""

    def record(self) -> records.Record:
        raise NotImplementedError

    def as_dict(self) -> dict:
        """The result as its JSON object (what ``--json`` prints, what the server answers)."""
        return self.record().as_dict()


@dataclass
class FaceQuality(JsonResult):
    """Whether a face can be identified at all, and why not (see faces/quality.py)."""

    score: float  # 0 (unusable) .. 1
    usable: bool
    reasons: list[str] = field(default_factory=list)
    measures: dict = field(default_factory=dict)  # det_score, face_px, sharpness, saturated, dark, yaw, roll

    def record(self) -> records.Quality:
        from . import records

        return records.Quality(score=round(float(self.score), 4), usable=self.usable, reasons=list(self.reasons))


@dataclass
class AlignedFace:
    """A face cropped and aligned to an encoder's template.

    ``crop`` is uint8 HxWx3 RGB. ``detected`` is False when no face was found and
    ``crop`` is a centre-crop fallback; ``box`` and ``score`` are then None. ``box`` and
    ``landmarks`` are in the photo's own pixels, even when a smaller copy was searched.
    """

    crop: np.ndarray
    detected: bool
    n_faces: int = 0
    box: tuple[float, float, float, float] | None = None
    score: float | None = None
    landmarks: np.ndarray | None = None  # 5 x 2 (eyes, nose, mouth corners) in the photo's pixels
    quality: FaceQuality | None = None
    scale: float = 1.0  # photo pixels per pixel of the copy the face was cropped from (large photos)


@dataclass(frozen=True)
class AttributeLabel(JsonResult):
    """One predicted attribute of a face (e.g. gender): the class and its probability."""

    label: str
    score: float

    def record(self) -> records.Attribute:
        from . import records

        return records.Attribute(label=self.label, score=round(float(self.score), 4))


def _attributes(attributes: dict[str, AttributeLabel] | None) -> dict:
    """Each attribute's record under its name (the keys a JSON face gets)."""
    return {name: a.record() for name, a in (attributes or {}).items()}


@dataclass
class Match(JsonResult):
    identity: str
    score: float
    photo: str
    probability: float | None = None  # the classifier's, with `query --decider svc`
    photo_id: int | None = None  # the stored photo's id (the server names photos by it)

    def record(self) -> records.Match:
        from . import records

        known = {} if self.probability is None else {"probability": round(float(self.probability), 6)}
        return records.Match(identity=self.identity, score=round(float(self.score), 6), photo=self.photo, **known)


@dataclass(frozen=True)
class AcceptRule:
    """When a best match is accepted: its score reaches ``score`` and, with ``margin`` set,
    it beats the runner-up identity by at least ``margin`` (no runner-up: the score alone
    decides). ``calibrate`` chooses both (``evaluation/thresholds.py``); a threshold given
    by hand is a score alone. A face whose quality is unusable is never accepted."""

    score: float
    margin: float | None = None

    @classmethod
    def stored(cls, threshold: float | None, info: dict | None) -> "AcceptRule | None":
        """The calibrated rule of a database (None: never calibrated). Databases calibrated
        before the margin existed keep their score-only rule."""
        if threshold is None:
            return None
        return cls(float(threshold), (info or {}).get("margin"))

    def accepts(self, matches: list[Match], face: AlignedFace | None) -> bool:
        unusable = face is not None and face.quality is not None and not face.quality.usable
        if not matches or matches[0].score < self.score or unusable:
            return False
        return self.margin is None or len(matches) < 2 or matches[0].score - matches[1].score >= self.margin


def _margin(matches: list[Match]) -> float | None:
    """The best identity's score minus the runner-up's (None with fewer than two)."""
    return matches[0].score - matches[1].score if len(matches) > 1 else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _decided(r) -> dict:
    """What decided ``accepted`` and, when not accepted, why; ``threshold``: the cosine score
    this face's best match needed."""
    return {"calibration": r.calibration, "reason": r.reason,
            "threshold": None if r.rule is None else _rounded(r.rule.score)}


def _quality(f: AlignedFace | None):
    return None if f is None or f.quality is None else f.quality.record()


def _located(f: AlignedFace) -> dict:
    """Where a face is and how usable: the keys every per-face record starts with."""
    return {"box": None if f.box is None else [round(float(v), 1) for v in f.box],
            "det_score": _rounded(f.score), "quality": _quality(f)}


@dataclass
class FaceAnalysis(JsonResult):
    """One face of a photo and its attributes (``facesearch analyze``)."""

    face: AlignedFace
    attributes: dict[str, AttributeLabel] = field(default_factory=dict)

    def record(self) -> records.FaceAttributes:
        from . import records

        return records.FaceAttributes(**_located(self.face), **_attributes(self.attributes))


@dataclass
class PhotoAnalysis(JsonResult):
    """Every face of one photo, left to right; ``main`` is the largest, most central one."""

    photo: str
    faces: list[FaceAnalysis]
    main: int = 0

    @property
    def faces_found(self) -> int:
        """Faces detected (0: ``faces`` holds the centre crop alone)."""
        return sum(f.face.detected for f in self.faces)

    def record(self) -> records.PhotoFaces:
        from . import records

        return records.PhotoFaces(photo=self.photo, faces=[f.record() for f in self.faces], main=self.main,
                          faces_found=self.faces_found)


@dataclass
class FaceMatch(JsonResult):
    """One face of a photo and who it may be (``query --all-faces``, the server's ``faces``)."""

    face: AlignedFace
    matches: list[Match] = field(default_factory=list)
    accepted: bool | None = None
    attributes: dict[str, AttributeLabel] | None = None  # e.g. {"gender": ...} when asked for
    calibration: str | None = None  # what decided: "shipped", "user" or "threshold" (None: nothing)
    reason: str | None = None  # why not accepted: "low score", "ambiguous" or "unusable face"
    rule: AcceptRule | None = None  # the rule in cosine scores for this face (not in the JSON)

    @property
    def box(self) -> tuple[float, float, float, float] | None:
        """x1, y1, x2, y2 in the photo's pixels (None: no face found, centre crop)."""
        return self.face.box

    @property
    def margin(self) -> float | None:
        return _margin(self.matches)

    def record(self) -> records.Face:
        from . import records

        return records.Face(**_located(self.face), matches=[m.record() for m in self.matches], accepted=self.accepted,
                    margin=_rounded(self.margin), **_attributes(self.attributes), **_decided(self))


@dataclass
class QueryResult(JsonResult):
    """Who is in one photo: the main face (the largest, most central) and, when every face
    was asked for, ``faces`` (all of them, left to right, the main one included)."""

    query: str
    matches: list[Match] = field(default_factory=list)
    accepted: bool | None = None
    face: AlignedFace | None = None
    warnings: list[str] = field(default_factory=list)
    faces: list[FaceMatch] | None = None
    attributes: dict[str, AttributeLabel] | None = None  # of the main face, when asked for
    calibration: str | None = None  # of the main face: see FaceMatch
    reason: str | None = None
    rule: AcceptRule | None = None

    @property
    def margin(self) -> float | None:
        """The best identity's score minus the runner-up's (None with fewer than two)."""
        return _margin(self.matches)

    def record(self) -> records.Query:
        from . import records

        every = {} if self.faces is None else {"faces": [f.record() for f in self.faces]}
        return records.Query(query=self.query, matches=[m.record() for m in self.matches], accepted=self.accepted,
                     quality=_quality(self.face), margin=_rounded(self.margin),
                     face_found=None if self.face is None else self.face.detected,
                     **_attributes(self.attributes), **_decided(self), **every)


@dataclass
class FileError:
    """A per-file failure: reported, counted, never fatal to the run."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"error: {shown(self.path)}: {self.reason}"


def identity_name(raw: str) -> str:
    """``raw`` as an identity name: NFC-normalised (so ``café`` typed or read from any file
    system is one person); ValueError when it is empty or holds control characters."""
    name = unicodedata.normalize("NFC", raw)
    if not name.strip():
        raise ValueError("an identity name cannot be empty")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise ValueError(f"identity name {shown(name)!r} contains control characters or undecodable bytes")
    return name


def shown(text: str | object) -> str:
    """``text`` safe for a terminal: undecodable bytes and control characters escaped."""
    text = str(text)
    return "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in text)
