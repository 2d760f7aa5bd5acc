"""The JSON records of results: the one definition of what `--json` prints, what
``as_dict()`` returns and what the REST API answers (its OpenAPI document is made from
these models). Each result class of :mod:`facesearch.types` builds its record
(``record()``); ``as_dict()`` is that record as a dict.

A key a record leaves unset is not written (``model_dump(exclude_unset=True)``): that is
how ``probability`` (``query --decider svc``), ``gender`` (attributes asked for) and
``faces`` (every face asked for) appear only when they are known. Pydantic is imported
here, not by :mod:`facesearch.types`: a command that prints no JSON does not load it.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    def as_dict(self) -> dict:
        """The JSON object: keys in declaration order, unset optional keys left out."""
        return self.model_dump(exclude_unset=True)


class Quality(Record):
    score: float = Field(description="0 (unusable) .. 1")
    usable: bool = Field(description="whether the face can be identified at all (false: never accepted)")
    reasons: list[str] = Field(description="why not usable (or why the score is low), in words")


class Attribute(Record):
    label: str = Field(description='"male" or "female"')
    score: float = Field(description="the model's probability of the label")


class Match(Record):
    identity: str
    score: float = Field(description="cosine similarity of the face and the identity's best photo")
    photo: str = Field(description="that photo: its path (CLI); on the server its file name "
                       "(`upload:<hash>/<name>` for uploads), its stored path only with --expose-paths")
    probability: float | None = Field(None, description="the classifier's probability of the identity "
                                      "(`query --decider svc` only)")
    photo_id: int | None = Field(None, description="that photo's id (server)")
    photo_url: str | None = Field(None, description="`/v1/photos/{photo_id}`: the photo's details (server)")


Box = Annotated[list[float] | None, Field(description="x1, y1, x2, y2 in the photo's pixels (null: no face "
                                          "found, the centre crop was used)")]
DetScore = Annotated[float | None, Field(description="the detector's confidence (null: no face found)")]
Gender = Annotated[Attribute | None, Field(description="with attributes asked for (`--attributes`, "
                                           "attributes=true): the face's gender")]
Accepted = Annotated[bool | None, Field(description="the best match passes the deciding rule (see `calibration`) "
                                        "and the face is usable; null when nothing is calibrated for the model")]
Margin = Annotated[float | None, Field(description="best identity's score minus the runner-up's")]
Calibration = Annotated[str | None, Field(description='what decided `accepted`: "shipped" (the model\'s '
                                          'own), "user" (`calibrate`) or "threshold" (given); null: nothing '
                                          "calibrated")]
Reason = Annotated[str | None, Field(description='why not accepted: "low score", "ambiguous" or '
                                     '"unusable face"')]
Threshold = Annotated[float | None, Field(description="the cosine score this face's best match needed")]
# attributes are written under their own names (gender, and any a plug-in adds)
WITH_ATTRIBUTES = ConfigDict(extra="allow")


class FaceAttributes(Record):
    """One face of ``facesearch analyze``."""
    model_config = WITH_ATTRIBUTES
    box: Box
    det_score: DetScore
    quality: Quality | None
    gender: Gender = None


class Face(Record):
    """One face and who it may be (``query --all-faces``, the server's ``faces``)."""
    model_config = WITH_ATTRIBUTES
    box: Box
    det_score: DetScore
    quality: Quality | None
    matches: list[Match]
    accepted: Accepted
    margin: Margin
    gender: Gender = None
    calibration: Calibration = None
    reason: Reason = None
    threshold: Threshold = None


class Query(Record):
    """``facesearch query --json``: the main face of one photo (and, asked for, every face)."""
    model_config = WITH_ATTRIBUTES
    query: str = Field(description="the photo as given")
    matches: list[Match]
    accepted: Accepted
    quality: Quality | None
    margin: Margin
    face_found: bool | None = Field(description="false: no face was found, the centre crop was used")
    gender: Gender = None
    calibration: Calibration = None
    reason: Reason = None
    threshold: Threshold = None
    faces: list[Face] | None = Field(None, description="with --all-faces: every face, left to right")


class PhotoFaces(Record):
    """``facesearch analyze --json``: every face of one photo."""
    photo: str
    faces: list[FaceAttributes]
    main: int = Field(description="the index in `faces` of the largest, most central face")
    faces_found: int = Field(description="faces detected (0: `faces` holds the centre crop alone)")


class Person(Record):
    """An enrolled identity (``people --json``, ``GET /v1/people``)."""
    identity: str
    photos: int = Field(description="photos enrolled")


class CompareResult(Record):
    """``compare``: the cosine score of two faces and whether they are one person."""
    score: float
    same: bool | None = Field(description="score >= the calibrated verification threshold (null: none)")
    threshold: float | None = Field(None, description="the cosine score these two faces needed")
    calibration: str | None = Field(None, description='what decided: "shipped" (the model\'s own) or "user" '
                                    '(`calibrate`); null: nothing calibrated')
    face_found: dict[str, bool] = Field(description='whether a face was found in the first ("a") and second '
                                        '("b") photo; false: that photo\'s centre crop was compared')
