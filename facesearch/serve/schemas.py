"""The JSON shapes of the REST API (they make the OpenAPI document at /openapi.json): the
envelopes and request bodies of the server alone. Results (a face and its matches, a
comparison) are the records of :mod:`facesearch.types.records`, as in ``--json``."""
from __future__ import annotations

from pydantic import BaseModel, Field

from ..types.records import Face, Person


class SearchResult(BaseModel):
    faces: list[Face] = Field(description="the largest, most central face; with all_faces=true every "
                              "detected face, left to right")
    processing_ms: float
    warnings: list[str] = []


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


class People(BaseModel):
    people: list[Person]


class Photo(BaseModel):
    id: int
    path: str = Field(description="the photo's file name (`upload:<hash>/<name>` for uploads); its stored path "
                      "only on a server started with --expose-paths")
    det_score: float | None
    n_faces: int | None
    quality: float | None
    added: str | None
    url: str = Field(description="`/v1/photos/{id}`")


class PhotoInfo(Photo):
    identity: str


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
