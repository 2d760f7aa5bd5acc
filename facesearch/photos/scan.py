"""Finding photos on disk: gallery layouts and query arguments."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import DISTORTION_DIR, IMAGE_EXTENSIONS


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _images_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p))
    except OSError:
        return []


def describe(path: Path) -> tuple[str, str]:
    """(kind, source stem) of a photo: "clean" and its own stem, or, for FACECOM's
    ``<person>/distortion/<stem>_<kind>.jpg``, the distortion and the clean photo's stem."""
    if path.parent.name == DISTORTION_DIR:
        stem, _, kind = path.stem.rpartition("_")
        return kind, stem
    return "clean", path.stem


def person_folders(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder of person folders")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_gallery(root: str | Path, include_distorted: bool = False) -> list[tuple[str, Path]]:
    """``(identity, photo)`` pairs of ``root/<person>/*`` (and ``<person>/distortion/*``).

    The FACECOM layout keeps distorted copies in ``<person>/distortion/``; they are skipped
    unless ``include_distorted``. Identity name = folder name.
    """
    pairs = []
    for person in person_folders(root):
        photos = _images_in(person)
        if include_distorted:
            photos += _images_in(person / DISTORTION_DIR)
        pairs += [(person.name, photo) for photo in photos]
    return pairs


def expand_paths(args: list[str | Path]) -> list[Path]:
    """Files stay as given (even non-images: they fail later, by name); folders are walked."""
    out: list[Path] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):  # followlinks=False: no symlink loops
                dirnames.sort()
                out += [Path(dirpath) / f for f in sorted(filenames) if is_image_name(Path(f))]
        else:
            out.append(p)
    return out
