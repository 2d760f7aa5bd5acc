"""Finding photos on disk: gallery layouts and query arguments.

Rules (docs/behaviour.md, "What happens when..."): a gallery is ``<root>/<person>/<photo>`` (plus
FACECOM's ``<person>/distortion/<photo>``); links to photos and to person folders are
followed, and a photo is recorded under the path it was *found* at (the link's own path),
so removing the link removes the photo at ``index --prune``. Everything else under the
root is reported as ignored, with the reason.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DISTORTION_DIR, IMAGE_EXTENSIONS
from ..types import FileError, identity_name


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def describe(path: Path) -> tuple[str, str]:
    """(kind, source stem) of a photo: "clean" and its own stem, or, for FACECOM's
    ``<person>/distortion/<stem>_<kind>.jpg``, the distortion and the clean photo's stem."""
    if path.parent.name == DISTORTION_DIR:
        stem, _, kind = path.stem.rpartition("_")
        return kind, stem
    return "clean", path.stem


def person_folder(photo: Path) -> Path:
    """The person folder a gallery photo was found in (FACECOM's distortion/ is inside it)."""
    return photo.parent.parent if photo.parent.name == DISTORTION_DIR else photo.parent


@dataclass
class GalleryScan:
    items: list[tuple[str, Path]] = field(default_factory=list)  # (identity, photo path as walked)
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # what was left out, and why
    distorted_skipped: int = 0  # FACECOM distortion/ photos, enrolled only with include_distorted
    empty_folders: list[Path] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)  # photos that cannot be enrolled as they are named
    unreadable: list[Path] = field(default_factory=list)  # folders that could not be listed: never "empty"

    def leave_out(self, path: Path, reason: str) -> None:
        if reason == NOT_UTF8:  # meant as a photo or a person: an error, not a remark
            self.errors.append(FileError(str(path), reason))
        else:
            self.ignored.append((path, reason))


def _entries(folder: Path, scan: GalleryScan) -> list[Path] | None:
    """The entries of ``folder``, or None (an error in ``scan``) where it cannot be read: a
    folder that can be entered but not listed (mode 0311), or not entered at all (000)."""
    try:
        entries = sorted(folder.iterdir())
        for entry in entries:
            entry.lstat()  # a folder that can be listed but not entered (0600)
        return entries
    except OSError as e:
        _cannot_read(folder, e, scan, "this folder")
        return None


def _cannot_read(path: Path, e: OSError, scan: GalleryScan, what: str = "it") -> None:
    scan.unreadable.append(path)
    scan.errors.append(FileError(str(path), f"cannot read {what} ({e.strerror or e}); "
                                 "what is enrolled from it is left as it is"))


def _unreachable(path: Path, scan: GalleryScan) -> bool:
    """Whether ``path``, followed if it is a link, cannot be reached (a link into a folder
    this user may not enter): an error in ``scan``, and kept from pruning."""
    try:
        path.stat()
    except FileNotFoundError:  # a broken link: _problem names it
        return False
    except OSError as e:
        _cannot_read(path, e, scan)
        return True
    return False


NOT_UTF8 = "its name is not valid UTF-8, so it cannot be stored: rename it"


def _problem(path: Path) -> str | None:
    """Why an entry is not walked, or None."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return NOT_UTF8
    if path.name.startswith("."):
        return "hidden"
    if path.is_symlink() and not path.exists():
        return "broken link"
    return None


def _photos(folder: Path, scan: GalleryScan, nested_ok: bool) -> list[Path] | None:
    """The photos of ``folder`` (None: it cannot be read)."""
    entries = _entries(folder, scan)
    if entries is None:
        return None
    photos = []
    for p in entries:
        if _unreachable(p, scan):
            continue
        reason = _problem(p)
        if reason is None and p.is_dir():
            if nested_ok and p.name == DISTORTION_DIR:
                continue  # handled by the caller
            reason = "a folder inside a person folder (only <person>/* and <person>/distortion/* are photos)"
        elif reason is None and not is_image_name(p):
            reason = f"not an image file name ({', '.join(sorted(IMAGE_EXTENSIONS))})"
        elif reason is None and not p.is_file():
            reason = "not a regular file"
        if reason:
            scan.leave_out(p, reason)
        else:
            photos.append(p)
    return photos


def walk_gallery(root: str | Path, include_distorted: bool = False) -> GalleryScan:
    """Every photo of ``root/<person>/*`` (and ``<person>/distortion/*``), what was ignored
    and why. Identity = the folder's name (NFC-normalised)."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder of person folders")
    scan = GalleryScan()
    for person in _entries(root, scan) or []:
        if _unreachable(person, scan):
            continue
        reason = _problem(person)
        if reason is None and not person.is_dir():
            reason = "not in a person folder (photos go in <gallery>/<person>/)"
        if reason is None:
            try:
                name = identity_name(person.name)
            except ValueError as e:
                reason = str(e)
        if reason:
            scan.leave_out(person, reason)
            continue
        photos = _photos(person, scan, nested_ok=True)
        if photos is None:
            continue
        distorted = person / DISTORTION_DIR
        if distorted.is_dir():
            more = _photos(distorted, scan, nested_ok=False)
            if more is None and not include_distorted:  # photos that are not enrolled: no error
                scan.unreadable.pop()
                scan.errors.pop()
            if include_distorted:
                photos += more or []
            else:
                scan.distorted_skipped += len(more or [])
        if not photos and distorted not in scan.unreadable:
            scan.empty_folders.append(person)
        scan.items += [(name, photo) for photo in photos]
    return scan


def scan_gallery(root: str | Path, include_distorted: bool = False) -> list[tuple[str, Path]]:
    """``(identity, photo)`` pairs of a gallery (see :func:`walk_gallery`)."""
    return walk_gallery(root, include_distorted).items


def expand_paths(args: list[str | Path]) -> tuple[list[Path], list[FileError]]:
    """Query arguments: files stay as given (even non-images: they fail later, by name);
    folders are walked (links to folders are not followed: no loops). A folder without a
    single photo is an error of its own."""
    out: list[Path] = []
    errors: list[FileError] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found, unreadable = [], []
            for dirpath, dirnames, filenames in os.walk(p, onerror=unreadable.append):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found += [Path(dirpath) / f for f in sorted(filenames) if is_image_name(Path(f))]
            errors += [FileError(e.filename or str(p), f"cannot read this folder ({e.strerror or e})")
                       for e in unreadable]
            if not found and not unreadable:
                errors.append(FileError(str(p), "no photos in this folder"))
            out += found
        else:
            out.append(p)
    return out, errors
