"""The JSON shapes of the REST API (they make the OpenAPI document at /openapi.json)."""
from __future__ import annotations

from pydantic import BaseModel, Field


class Match(BaseModel):
    identity: str
    score: float = Field(description="cosine similarity of the face and the identity's best photo")
    photo: str = Field(description="that photo's stored path (`upload:<hash>/<name>` for uploads)")


class Quality(BaseModel):
    score: float
    usable: bool
    reasons: list[str]


class Attribute(BaseModel):
    label: str = Field(description='"male" or "female"')
    score: float = Field(description="the model's probability of the label")


class Face(BaseModel):
    box: list[float] | None = Field(description="x1, y1, x2, y2 in the photo's pixels (null: no face "
                                    "found, the centre crop was used)")
    det_score: float | None
    quality: Quality | None
    matches: list[Match]
    accepted: bool | None = Field(description="best score >= the calibrated threshold and a usable face; "
                                  "null until a threshold is calibrated")
    margin: float | None = Field(description="best identity's score minus the runner-up's")
    gender: Attribute | None = Field(None, description="with attributes=true: the face's gender")


class SearchResult(BaseModel):
    faces: list[Face] = Field(description="the largest, most central face; with all_faces=true every "
                              "detected face, left to right")
    processing_ms: float
    warnings: list[str] = []


class CompareResult(BaseModel):
    score: float
    same: bool | None = Field(description="score >= the calibrated verification threshold (null: none)")


class Encoder(BaseModel):
    arch: str
    model: str
    weights: str | None
    checksum: str
    embedding_dim: int
    flip: bool


class Health(BaseModel):
    status: str
    identities: int
    photos: int
    encoder: Encoder
    detector: str


class Person(BaseModel):
    identity: str
    photos: int


class People(BaseModel):
    people: list[Person]


class Photo(BaseModel):
    id: int
    path: str
    det_score: float | None
    n_faces: int | None
    quality: float | None
    added: str | None


class Photos(BaseModel):
    identity: str
    photos: list[Photo]


class Unusable(BaseModel):
    photo: str
    reasons: list[str]


class Added(BaseModel):
    identity: str
    added: list[int] = Field(description="ids of the photos enrolled by this request")
    existing: list[int] = Field(description="photos with the same bytes already enrolled as this identity")
    unusable: list[Unusable] = Field(description="enrolled, but their face is unusable (quality)")


class Rename(BaseModel):
    """The body of PATCH /v1/people/{identity}: ``{"name": "<new name>"}``."""
    name: str = Field(description="the identity's new name (NFC-normalised; 409 if another identity has it)",
                      examples=["Ann Smith"])


class Renamed(BaseModel):
    identity: str = Field(description="the new name, as stored")
    previous: str = Field(description="the name before")


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str


class Error(BaseModel):
    error: ErrorBody
