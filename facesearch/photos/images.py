"""Loading user images safely: every failure becomes an ``ImageError`` naming the cause."""
from __future__ import annotations

import hashlib
import io
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..config import MAX_DETECT_SIDE, MAX_FILE_BYTES
from ..errors import ImageError

# Photos larger than MAX_DETECT_SIDE are searched on a smaller copy; the copy remembers the
# photo's own (upright) size here, so that faces are reported in the photo's pixels.
ORIGINAL_SIZE = "facesearch.original_size"
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the photo by 90 degrees
# Pixels decoded per pixel that detection sees (MAX_DETECT_SIDE^2): 25 x 1024^2 = 26.2 MP,
# a 24 MP camera's photo even as PNG. JPEGs are reduced while decoding (draft), so nearly
# any JPEG fits; other formats are decoded whole, so a small file that unpacks to more
# (a 150 KB, 81 MP 16-bit PNG took 2.2 GB and 7-15 s) is refused from its header.
DECODE_BUDGET = 25


def original_size(image: Image.Image) -> tuple[int, int]:
    """The (width, height) of the photo ``image`` was made from (its own size if none)."""
    return image.info.get(ORIGINAL_SIZE, image.size)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L"):
        # Pillow's convert('RGB') clips 16-bit values at 255; rescale instead (integers:
        # round(v * 255 / 65535), without a float copy of a large image).
        a = np.asarray(im).astype(np.uint32)
        return Image.fromarray(((a * 255 + 32767) // 65535).astype(np.uint8), "L").convert("RGB")
    if im.mode == "I":
        a = np.asarray(im, dtype=np.float32)
        a = np.clip(a / max(float(a.max()), 1.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")


def read_photo(path: str | Path) -> tuple[bytes, str]:
    """The bytes of a photo file and their SHA-256: what is hashed is what is decoded,
    even if the file is replaced meanwhile."""
    p = Path(path)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ImageError("is a directory, expected an image file")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError("not a regular file (a device, pipe or socket)")
        if st.st_size == 0:
            raise ImageError("empty file (0 bytes)")
        if st.st_size > MAX_FILE_BYTES:
            raise ImageError(f"file too large ({st.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,})")
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageError("no such file (or a broken link)") from None
    except OSError as e:
        raise ImageError(f"cannot read file ({e.strerror or e})") from None
    if not data:
        raise ImageError("empty file (0 bytes)")
    return data, hashlib.sha256(data).hexdigest()


def load_rgb(path: str | Path, max_side: int = MAX_DETECT_SIDE, data: bytes | None = None) -> Image.Image:
    """Open ``path`` (or its already-read ``data``) as an upright RGB image no larger than
    ``max_side``.

    Handles EXIF orientation, grayscale, CMYK, palette, alpha and 16-bit images.
    Raises ImageError for missing, empty, truncated, non-image or oversized files.
    """
    if data is None:
        data, _ = read_photo(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                size = (h, w) if im.getexif().get(ExifTags.Base.Orientation) in _SWAPS_AXES else (w, h)
                _draft(im, max_side)
                im.load()
                im = ImageOps.exif_transpose(im)
                im = _to_rgb(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image too large ({e})") from None
    except UnidentifiedImageError:
        raise ImageError("not an image file (unrecognised format)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"cannot decode image ({e})") from None
    return _sized(im, max_side, size)


def _draft(im: Image.Image, max_side: int) -> None:
    """Ask the decoder for the smallest copy whose long side still reaches ``max_side``
    (JPEG decodes at 1/2, 1/4 or 1/8 scale), then refuse what is over the decode budget."""
    w, h = im.size
    if max(w, h) > max_side:
        r = max_side / max(w, h)
        im.draft("RGB", (max(1, round(w * r)), max(1, round(h * r))))
    w, h = im.size
    budget = DECODE_BUDGET * max_side * max_side
    if w * h > budget:
        raise ImageError(f"image too large to decode: {w}x{h} px ({w * h / 1e6:.1f} MP); {im.format or 'this format'} "
                         f"cannot be reduced while decoding and photos are decoded up to {budget / 1e6:.1f} MP "
                         f"(detection works at {max_side} px): send a smaller copy (or a JPEG)")


def check_bytes(data: bytes) -> tuple[bytes, str]:
    """A photo given as bytes (an upload), checked like a file, and its SHA-256."""
    data = bytes(data)
    if not data:
        raise ImageError("empty file (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"file too large ({len(data):,} bytes; the limit is {MAX_FILE_BYTES:,})")
    return data, hashlib.sha256(data).hexdigest()


def from_pil(image: Image.Image, max_side: int = MAX_DETECT_SIDE) -> Image.Image:
    """An already-decoded PIL image made what :func:`load_rgb` returns (upright 8-bit RGB)."""
    try:
        im = _to_rgb(ImageOps.exif_transpose(image))
    except (OSError, ValueError) as e:
        raise ImageError(f"cannot use image ({e})") from None
    return _sized(im, max_side, im.size)


def _sized(im: Image.Image, max_side: int, size: tuple[int, int]) -> Image.Image:
    """``im`` (upright, decoded from a photo of ``size``) no larger than ``max_side``; the
    photo's size is kept in ``im.info`` (:func:`original_size`)."""
    if min(im.size) < 8:
        raise ImageError(f"image too small ({im.size[0]}x{im.size[1]})")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.BILINEAR)
    im.info[ORIGINAL_SIZE] = size
    return im
