"""People admin of a gallery (a part of :class:`~.facade.Gallery`): list, rename and remove
identities and photos, enrol photos given in memory. Each refuses before its write starts
(no lock is taken for a request that cannot succeed), then writes under the writer lock
and generation protocol (``_writing``)."""
from __future__ import annotations

from ..errors import NotFoundError
from .enrolment import check_quality_gate, valid_name
from .uploads import UploadReport, embed_all, owners, store_uploads
from .writes import under_writer_lock


class People:
    """Mixed into :class:`~.facade.Gallery` (it has ``store``, ``sync``, ``embedder``, ``_writing``)."""

    def people(self) -> list[tuple[str, int]]:
        """Enrolled identities with their photo counts, by name."""
        return self.store.people()

    def photos(self, name: str) -> list[dict]:
        """The stored photos of ``name`` (id, path, det_score, n_faces, quality, added)."""
        return self.store.photos_of(name)

    @under_writer_lock
    def rename(self, old: str, new: str) -> None:
        """Rename an identity (its folder's photos keep the new name on the next ``enroll``)."""
        self.store.rename_identity(old, valid_name(new))

    def remove(self, name: str) -> int:
        """Delete an identity, its photos and their vectors; returns photos removed."""
        if name not in dict(self.people()):
            raise NotFoundError(f"no identity named {name!r}")
        with self._writing() as (meta, _):
            ids = self.store.remove_identity(name)
            self.sync.remove(meta, ids)
        return len(ids)

    def remove_photo(self, photo_id: int) -> str:
        """Delete one photo and its vector (and its identity, if no photo is left); returns
        the identity's name."""
        if not self.store.photo_info({int(photo_id)}):
            raise NotFoundError(f"no photo with id {photo_id}")
        with self._writing() as (meta, _):
            name = self.store.remove_photo(int(photo_id))
            self.sync.remove(meta, [int(photo_id)])
        return name

    def enroll_photos(self, name: str, photos: list, quality_gate: str = "warn",
                      require_face: bool = False) -> UploadReport:
        """Enrol photos given in memory (bytes, PIL images; paths work too) as ``name``.
        All or nothing: a photo that cannot be used (ImageError) or whose bytes are enrolled
        as someone else (ConflictError) refuses the call before anything is written."""
        name = valid_name(name)
        check_quality_gate(quality_gate)
        results = embed_all(self.embedder(require_face), photos)  # outside the lock
        owners(self.store, name, results)  # a photo enrolled as someone else: refused now
        with self._writing() as (meta, _):
            return store_uploads(self.store, self.sync, meta, name, results, quality_gate)
