"""Loading user images safely: every failure becomes an ``ImageError`` naming the cause."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..config import MAX_DETECT_SIDE
from ..errors import ImageError


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's convert('RGB') clips 16-bit values at 255; rescale instead.
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") else max(float(a.max()), 1.0)
        a = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")


def load_rgb(path: str | Path, max_side: int = MAX_DETECT_SIDE) -> Image.Image:
    """Open ``path`` as an upright RGB image no larger than ``max_side``.

    Handles EXIF orientation, grayscale, CMYK, palette, alpha and 16-bit images.
    Raises ImageError for missing, empty, truncated, non-image or oversized files.
    """
    p = Path(path)
    if p.is_dir():
        raise ImageError("is a directory, expected an image file")
    try:
        if p.stat().st_size == 0:
            raise ImageError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                im.draft("RGB", (max_side, max_side))  # cheap JPEG downscale on decode
                im.load()
                im = ImageOps.exif_transpose(im)
                im = _to_rgb(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image too large ({e})") from None
    except UnidentifiedImageError:
        raise ImageError("not an image file (unrecognised format)") from None
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"cannot decode image ({e})") from None
    if min(im.size) < 8:
        raise ImageError(f"image too small ({im.size[0]}x{im.size[1]})")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.BILINEAR)
    return im
