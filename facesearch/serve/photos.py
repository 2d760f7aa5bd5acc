"""How the API names gallery photos: by id and the URL of ``GET /v1/photos/{id}``, never by
the server's file system layout. A photo enrolled from a folder is shown by its file name
alone (``alice_1.jpg``, not ``/srv/gallery/alice/alice_1.jpg``); an upload keeps its stored
name ``upload:<hash>/<name>`` (no server path in it). ``--expose-paths`` shows stored paths
as they are, for a server whose users may know its layout."""
from __future__ import annotations

from ..errors import NotFoundError
from ..gallery.uploads import UPLOAD_PREFIX
from ..types import FaceMatch, Match, records

PHOTOS_URL = "/v1/photos/"
MAX_PHOTO_ID = (1 << 31) - 1  # photo ids are INTEGER columns: 32 bits on PostgreSQL


def checked_id(raw: int) -> int:
    """``raw`` as a photo id, or NotFoundError: an id no column can hold is no photo (not a 500)."""
    if not 1 <= raw <= MAX_PHOTO_ID:
        raise NotFoundError(f"no photo with id {raw}")
    return raw


def shown_path(path: str, expose: bool) -> str:
    if expose or path.startswith(UPLOAD_PREFIX):
        return path
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def match_record(m: Match, expose: bool) -> records.Match:
    """A match as the server shows it: the photo by name, id and URL."""
    url = None if m.photo_id is None else f"{PHOTOS_URL}{m.photo_id}"
    return m.record().model_copy(update={"photo": shown_path(m.photo, expose), "photo_id": m.photo_id,
                                         "photo_url": url})


def face_record(f: FaceMatch, expose: bool) -> records.Face:
    """One face of a search, its matches named as the server shows photos (the gallery already
    cut them to the request's own ``k``)."""
    face = f.record()
    face.matches = [match_record(m, expose) for m in f.matches]
    return face


def photo_dict(row: dict, expose: bool) -> dict:
    return {**row, "path": shown_path(row["path"], expose), "url": f"{PHOTOS_URL}{row['id']}"}
