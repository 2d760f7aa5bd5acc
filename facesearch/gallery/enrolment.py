"""One enrolment run, inside the facade's writer section: names resolved (renamed folders),
duplicates found, photos embedded and stored batch by batch, changed files replaced,
vanished ones pruned."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import EMBED_BATCH, QUALITY_GATES
from ..errors import GalleryError
from ..files import sha256_file
from ..photos.scan import person_folder
from ..types import FileError, identity_name, shown
from .store import GalleryMeta, NewPhoto, Store
from .vectors import VectorStore

Progress = Callable[[int], None] | None


@dataclass
class EnrollReport:
    added: int = 0
    skipped: int = 0
    unusable: list[tuple[str, list[str]]] = field(default_factory=list)  # (path, reasons) of poor faces
    removed: int = 0  # by --prune
    replaced: int = 0  # a path whose bytes changed: its old photo gave way to the new one
    no_face: int = 0
    errors: list[FileError] = field(default_factory=list)


def valid_name(raw: str) -> str:
    """``raw`` as an identity name (NFC), or a GalleryError saying why it cannot be one."""
    try:
        return identity_name(raw)
    except ValueError as e:
        raise GalleryError(str(e)) from None


def check_quality_gate(gate: str) -> None:
    if gate not in QUALITY_GATES:
        raise GalleryError(f"quality gate must be one of {', '.join(QUALITY_GATES)}")


def new_photo(name: str, folder: str | None, path: str, result) -> NewPhoto:
    """The row for an embedded photo (a pipeline ``Embedded``)."""
    face = result.face
    return NewPhoto(name, folder, path, result.sha256, list(face.box) if face.box else None, face.score,
                    face.n_faces, face.quality, result.vector)


def save_photos(store: Store, sync: VectorStore, meta: GalleryMeta, photos: list[NewPhoto]) -> tuple[list[int], list[int]]:
    """Inside the writer section: rows first, then vectors (a replaced photo's vector goes).
    Returns (new ids, replaced ids)."""
    ids, replaced = store.add_photos(photos)
    sync.remove(meta, replaced)
    sync.index.add(ids, np.stack([p.vector for p in photos]))
    return ids, replaced


def folder_name(folder: Path) -> str | None:
    """A folder's name as an identity name (None where it cannot be one: ``.``, ``/``, ...)."""
    try:
        return identity_name(Path(walked(folder)).name)
    except ValueError:
        return None


def walked(path: Path) -> str:
    """A path as stored: absolute, as it was walked (links not resolved)."""
    return os.path.abspath(path)


class Enrolment:
    """Adds ``(identity, photo)`` pairs to the store and the index; fills ``report``."""

    def __init__(self, store: Store, sync: VectorStore, meta: GalleryMeta, report: EnrollReport,
                 progress: Progress = None, quality_gate: str = "warn"):
        check_quality_gate(quality_gate)
        self.store, self.sync, self.meta, self.report = store, sync, meta, report
        self.progress, self.quality_gate = progress, quality_gate

    def run(self, items: list[tuple[str, Path]], embedder, prune_under: Path | None, keep_under=()) -> None:
        owner = self.store.photos_by_hash()  # sha256 -> (identity, path)
        todo = self.new_items(items, owner)
        if todo:  # no model load for a no-op run
            chunks = (todo[i:i + EMBED_BATCH] for i in range(0, len(todo), EMBED_BATCH))
            batches = embedder().batches([p for _, p, _ in todo], EMBED_BATCH)
            for chunk, results in zip(chunks, batches):
                self.store_batch(chunk, results, owner)
                if self.progress:
                    self.progress(len(chunk))
        if prune_under is not None:
            prefix = walked(Path(prune_under)) + "/"
            keep = [walked(k) for k in keep_under]  # unreadable folders (and photos): left as they are
            stale = self.store.prune(prefix, {walked(p) for _, p in items} | set(keep), tuple(k + "/" for k in keep))
            self.sync.remove(self.meta, stale)
            self.report.removed = len(stale)

    def named(self, items) -> list[tuple[str, Path]]:
        """Validated names; a photo from a folder named like its identity takes the name that
        folder's identity has now (it may have been renamed)."""
        renamed = self.store.folder_identities()
        out = []
        for name, p in items:
            p = Path(p)
            name = valid_name(name)
            folder = person_folder(p)
            if folder_name(folder) == name:
                name = renamed.get(walked(folder), name)
            out.append((name, p))
        return out

    def new_items(self, items, owner: dict):
        """Photos to embed, with their hash; already-stored ones are counted as skipped."""
        todo = []
        for name, path in items:
            try:
                digest = sha256_file(path)
            except OSError as e:
                self.report.errors.append(FileError(str(path), e.strerror or str(e)))
                if self.progress:
                    self.progress(1)
                continue
            if not self.accept(name, path, digest, owner):
                if self.progress:
                    self.progress(1)
                continue
            owner[digest] = (name, walked(path))
            todo.append((name, path, digest))
        return todo

    def accept(self, name: str, path: Path, digest: str, owner: dict) -> bool:
        """Whether a photo with these bytes is new; a duplicate is counted or reported."""
        if digest not in owner:
            return True
        other, where = owner[digest]
        if other == name:
            self.report.skipped += 1  # the same bytes again (also twice in one folder): once is enough
        else:
            self.report.errors.append(FileError(str(path), f"the same photo as {shown(where)}, enrolled as "
                                           f"{shown(other)}: a photo cannot show two identities"))
        return False

    def store_batch(self, chunk, results, owner: dict) -> None:
        photos = []
        for (name, path, digest), res in zip(chunk, results):
            if isinstance(res, FileError):
                self.report.errors.append(res)
                continue
            if res.sha256 != digest:  # rewritten since it was hashed: what was embedded counts
                if not self.accept(name, path, res.sha256, owner):
                    continue
                owner[res.sha256] = (name, walked(path))
            face = res.face
            if not face.quality.usable:
                self.report.unusable.append((str(path), face.quality.reasons))
                if self.quality_gate == "skip":
                    continue
            self.report.no_face += not face.detected
            folder = person_folder(path)
            photos.append(new_photo(name, walked(folder) if folder_name(folder) == name else None, walked(path), res))
        if photos:
            _, replaced = save_photos(self.store, self.sync, self.meta, photos)
            self.report.replaced += len(replaced)
        self.report.added += len(photos)
