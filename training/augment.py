"""The seven FACECOM distortions, fitted to real (clean, distorted) train pairs, plus flips
and colour jitter, on uint8 RGB images.

Every distortion is ``f(img, rng, *, style=None, frame="photo") -> img``: an H x W x 3 uint8
array in, one of the same shape and dtype out, randomness drawn from ``rng`` (reproducible
with a seeded Generator). The constants below come from ``python -m training.fit_distortions
../shared/data/facecom/train --pairs 200`` (see ``benchmarks/results_distortions.md``), which
measured what FACECOM did to its photos:

- FACECOM distorted two kinds of photo differently. ``style="lfw"`` reproduces what it did
  to its LFW photos (identities named like ``Aaron_Peirsol``), ``style="frontal"`` what it
  did to its ``NNN_frontal`` studio photos (weaker noise, rain, blur and resizing, a compact
  sun blob: those were distorted at a higher resolution before being saved at 224 px).
  ``style=None`` draws ``"frontal"`` with probability :data:`FRONTAL_SHARE` (its share of
  train photos), else ``"lfw"``.
- Sizes are relative to the source photo, never absolute pixels: each function behaves as
  if the input were the FACECOM photo (224 px) resampled to the input's size. ``frame``
  says where that photo is: ``"photo"`` (default) means the input *is* the whole photo;
  ``"crop"`` means it is an aligned face crop as ``training.data`` makes them, and uses the
  median framing measured on train (:data:`CROP_FRAMES`: the photo's side is ~1.8 crop sides
  for LFW photos, so the sun glare, fog pattern and blur are scaled and centred
  accordingly); a :class:`Frame` gives it explicitly. So the glare radius, fog pattern, blur
  sigma, resize factor and rain-drop length are fractions of the photo's side; the noise
  and rain are drawn on a grid of :data:`NATIVE_SIDE` pixels per photo side (the
  resolution FACECOM applied them at) and resampled to the input.
- Deterministic per photo where FACECOM was (sun glare, fog, low light, blur, resizing: the
  same for every photo of a style); random where it was (noise and rain drops).
- Noisy and rainy outputs go through a JPEG round trip at quality 75, FACECOM's own
  (its distorted photos are q75 4:2:0 JPEGs, which smooth the noise and the thin drops).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

STYLES = ("lfw", "frontal")
# Fitted by training/fit_distortions.py on FACECOM train (757 identities; see the module doc).
FRONTAL_SHARE = 0.0508          # share of train clean photos from NNN_frontal identities (82/1615)
JPEG_QUALITY = 75               # FACECOM's photos: JPEG q75, 4:2:0


@dataclass(frozen=True)
class Frame:
    """Where the source photo lies in the image being distorted: its side in units of the
    image's shorter side, and its centre in units of the image's height (cy) and width (cx)."""

    side: float = 1.0
    cy: float = 0.5
    cx: float = 0.5


PHOTO = Frame()
# Median framing of the whole photo in aligned 112-px crops (MTCNN + ArcFace template),
# measured on train clean photos by fit_distortions.py.
CROP_FRAMES = {"lfw": Frame(1.8, 0.55, 0.5), "frontal": Frame(3.0, 0.4, 0.5)}

# -- blurred: Gaussian blur, sigma as a fraction of the photo side ----------------------------
BLUR_SIGMA = {"lfw": 2.25 / 224, "frontal": 0.4 / 224}
# -- resized: down to RESIZE_FACTOR of the photo side (filter DOWN), back up (filter UP) ------
RESIZE_FACTOR = {"lfw": 0.5, "frontal": 1.0}
RESIZE_FILTERS = {"lfw": ("bilinear", "lanczos"), "frontal": ("bilinear", "lanczos")}
# -- lowlight: out = LOWLIGHT_GAIN * in ** LOWLIGHT_GAMMA (in [0, 1]), every channel ----------
LOWLIGHT_GAIN = 0.30
LOWLIGHT_GAMMA = 1.0
# -- foggy: out = in * (1 - t) + FOG_LEVEL * t, t a fixed map over the photo (FOG_MAP) --------
FOG_LEVEL = 200.0
FOG_MAP_HEX = ""
# -- noisy: Gaussian (per channel, sigma NOISE_SIGMA grey levels) plus a fraction NOISE_IMPULSE
#    of grey salt-and-pepper pixels, drawn on a grid of NATIVE_SIDE px per photo side --------
NATIVE_SIDE = {"lfw": 250.0, "frontal": 1120.0}
NOISE_SIGMA = 15.0
NOISE_IMPULSE = 0.15
NOISE_PER_CHANNEL = True
# -- rainy: out = RAIN_GAIN * in + drops; drops are 1-px lines on the native grid ------------
RAIN_GAIN = 0.80
RAIN_DENSITY = 0.02           # drops per native pixel
RAIN_LENGTH = (6.0, 12.0)     # native pixels, uniform
RAIN_ANGLE = 14.0             # degrees from vertical, top-left to bottom-right
RAIN_VALUE = 90.0             # grey levels added along a drop
# -- sunny: out = min(in + glare(r), 255) in every channel; r = distance from the photo centre
#    as a fraction of its side; glare tabulated at SUN_R (linear in between) ----------------
SUN_R = np.linspace(0.0, 0.72, 19)
SUN_ADD = {"lfw": np.full(19, 128.0), "frontal": np.full(19, 64.0)}


def _f(img):
    return img.astype(np.float32) / 255.0


def _u8(x):
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _u8_levels(x):
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
            "box": Image.BOX, "lanczos": Image.LANCZOS}


def _style(rng, style):
    if style is None:
        return "frontal" if rng.random() < FRONTAL_SHARE else "lfw"
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    return style


def _frame(img, style, frame) -> tuple[float, float, float]:
    """(photo side, photo centre y, photo centre x) in the image's pixels."""
    if isinstance(frame, str):
        if frame not in ("photo", "crop"):
            raise ValueError(f"frame must be 'photo', 'crop' or a Frame, not {frame!r}")
        frame = PHOTO if frame == "photo" else CROP_FRAMES[style]
    h, w = img.shape[:2]
    return frame.side * min(h, w), frame.cy * h, frame.cx * w


def _photo_coords(img, side, cy, cx):
    """Each pixel's position in the photo: (v, u) in photo sides, 0.5 at its centre."""
    h, w = img.shape[:2]
    v = (np.arange(h, dtype=np.float32) + 0.5 - cy) / side + 0.5
    u = (np.arange(w, dtype=np.float32) + 0.5 - cx) / side + 0.5
    return v[:, None], u[None, :]


def jpeg(img: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def _resample(img: np.ndarray, h: int, w: int, filt=Image.BICUBIC) -> np.ndarray:
    if img.shape[:2] == (h, w):
        return img
    if img.dtype == np.uint8:
        return np.asarray(Image.fromarray(img).resize((w, h), filt))
    chans = [np.asarray(Image.fromarray(img[..., c].astype(np.float32), "F").resize((w, h), filt))
             for c in range(img.shape[2])]
    return np.stack(chans, axis=2)


def native_size(img, native_side: float, side: float) -> tuple[int, int]:
    """The input's size on a grid of ``native_side`` pixels per photo side (at most 8x)."""
    h, w = img.shape[:2]
    k = min(native_side / side, 8.0)
    return max(1, round(h * k)), max(1, round(w * k))


# -- the parametrised models (fit_distortions.py searches these) ------------------------------
def gaussian_blur(img, sigma_px: float) -> np.ndarray:
    if sigma_px <= 0:
        return img.copy()
    return _u8_levels(ndimage.gaussian_filter(img.astype(np.float32), (sigma_px, sigma_px, 0), mode="reflect"))


def down_up(img, factor: float, down: str = "bilinear", up: str = "lanczos") -> np.ndarray:
    h, w = img.shape[:2]
    if factor >= 1:
        return img.copy()
    small = Image.fromarray(img).resize((max(1, round(w * factor)), max(1, round(h * factor))), _FILTERS[down])
    return np.asarray(small.resize((w, h), _FILTERS[up]))


def impulse_noise(img, rng, sigma: float, impulse: float, per_channel: bool, native: tuple[int, int],
                  quality: int | None = JPEG_QUALITY) -> np.ndarray:
    """Gaussian noise plus grey salt and pepper, drawn on a ``native`` (h, w) grid."""
    h, w = img.shape[:2]
    x = _resample(img, *native).astype(np.float32)
    x += rng.normal(0, sigma, x.shape[:2] + ((3,) if per_channel else (1,))).astype(np.float32)
    m = rng.random(x.shape[:2])
    x[m < impulse / 2] = 0
    x[(m >= impulse / 2) & (m < impulse)] = 255
    out = _resample(_u8_levels(x), h, w, Image.BILINEAR)
    return jpeg(out, quality) if quality else out


def rain_layer(rng, native: tuple[int, int], density: float, length: tuple[float, float],
               angle: float, value: float) -> np.ndarray:
    """Drops as 1-px lines of ``value`` on a ``native`` (h, w) grid, float32."""
    hn, wn = native
    layer = np.zeros((hn, wn), np.float32)
    lmax = int(np.ceil(length[1]))
    dy, dx = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    # starts over a margin so that drops cut by the top and left edges are as frequent as inside
    y0, x0 = -lmax * dy, -lmax * abs(dx)
    area = (hn - y0) * (wn - 2 * x0)
    n = rng.poisson(density * area)
    ys = rng.uniform(y0, hn, n)
    xs = rng.uniform(x0, wn - x0, n)
    ls = rng.uniform(length[0], length[1], n)
    for t in range(lmax + 1):
        keep = t <= ls
        yy = np.floor(ys[keep] + t * dy).astype(int)
        xx = np.floor(xs[keep] + t * dx).astype(int)
        ok = (yy >= 0) & (yy < hn) & (xx >= 0) & (xx < wn)
        layer[yy[ok], xx[ok]] = value
    return layer


def rain(img, rng, gain: float, density: float, length: tuple[float, float], angle: float, value: float,
         native: tuple[int, int], quality: int | None = JPEG_QUALITY) -> np.ndarray:
    h, w = img.shape[:2]
    drops = _resample(rain_layer(rng, native, density, length, angle, value)[..., None], h, w, Image.BILINEAR)
    out = _u8_levels(gain * img.astype(np.float32) + drops)
    return jpeg(out, quality) if quality else out


def fog_map(hex_str: str = None) -> np.ndarray:
    """The fitted fog transmission map, square, values in [0, 1]."""
    hex_str = FOG_MAP_HEX if hex_str is None else hex_str
    v = np.frombuffer(bytes.fromhex(hex_str), np.uint8).astype(np.float32) / 255.0
    n = int(round(np.sqrt(len(v))))
    return v.reshape(n, n)


def sample_map(grid: np.ndarray, v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Bilinear look-up of a map covering the photo ([0, 1]^2) at photo positions (v, u)."""
    n = grid.shape[0]
    vv, uu = np.broadcast_arrays(v * n - 0.5, u * n - 0.5)
    return ndimage.map_coordinates(grid, [vv, uu], order=1, mode="nearest").astype(np.float32)


# -- the seven distortions ------------------------------------------------------------------
def blurred(img, rng, *, style=None, frame="photo"):
    """Gaussian blur of sigma BLUR_SIGMA photo sides (2.25 px on a 224-px LFW photo)."""
    style = _style(rng, style)
    side, _, _ = _frame(img, style, frame)
    return gaussian_blur(img, BLUR_SIGMA[style] * side)


def foggy(img, rng, *, style=None, frame="photo"):
    """Blend towards grey FOG_LEVEL by the fixed fog map t (FACECOM used one map, scaled to
    the photo, for every photo): out = in * (1 - t) + FOG_LEVEL * t."""
    style = _style(rng, style)
    side, cy, cx = _frame(img, style, frame)
    t = sample_map(fog_map(), *_photo_coords(img, side, cy, cx))[..., None]
    return _u8_levels(img.astype(np.float32) * (1 - t) + FOG_LEVEL * t)


def lowlight(img, rng, *, style=None, frame="photo"):
    """out = LOWLIGHT_GAIN * in ** LOWLIGHT_GAMMA, in [0, 1], the same in every channel."""
    _style(rng, style)
    return _u8(LOWLIGHT_GAIN * _f(img) ** LOWLIGHT_GAMMA)


def noisy(img, rng, *, style=None, frame="photo"):
    """Gaussian noise (NOISE_SIGMA) plus NOISE_IMPULSE grey salt-and-pepper pixels on the
    native grid (NATIVE_SIDE px per photo side), resampled to the input, then JPEG q75."""
    style = _style(rng, style)
    side, _, _ = _frame(img, style, frame)
    return impulse_noise(img, rng, NOISE_SIGMA, NOISE_IMPULSE, NOISE_PER_CHANNEL,
                         native_size(img, NATIVE_SIDE[style], side))


def rainy(img, rng, *, style=None, frame="photo"):
    """Darken by RAIN_GAIN and add drops: 1-px lines of RAIN_VALUE grey levels, RAIN_LENGTH
    native px long, RAIN_ANGLE degrees from vertical, RAIN_DENSITY per native pixel, drawn on
    the native grid and resampled to the input; then JPEG q75."""
    style = _style(rng, style)
    side, _, _ = _frame(img, style, frame)
    return rain(img, rng, RAIN_GAIN, RAIN_DENSITY, RAIN_LENGTH, RAIN_ANGLE, RAIN_VALUE,
                native_size(img, NATIVE_SIDE[style], side))


def resized(img, rng, *, style=None, frame="photo"):
    """Down to RESIZE_FACTOR of the size and back (a resolution of RESIZE_FACTOR photo
    sides whatever the input's size)."""
    style = _style(rng, style)
    return down_up(img, RESIZE_FACTOR[style], *RESIZE_FILTERS[style])


def sunny(img, rng, *, style=None, frame="photo"):
    """Additive grey glare centred on the photo's centre, clipped at 255; its profile
    SUN_ADD[style] is a function of the distance to the centre in photo sides (LFW photos:
    brightened over the whole frame; NNN_frontal photos: a compact blob)."""
    style = _style(rng, style)
    side, cy, cx = _frame(img, style, frame)
    v, u = _photo_coords(img, side, cy, cx)
    r = np.hypot(v - 0.5, u - 0.5)
    glare = np.interp(r, SUN_R, SUN_ADD[style]).astype(np.float32)[..., None]
    return _u8_levels(np.minimum(img.astype(np.float32) + glare, 255.0))


DISTORTIONS = {f.__name__: f for f in (blurred, foggy, lowlight, noisy, rainy, resized, sunny)}


def jitter(img, rng):
    x = _f(img)
    x = x * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
    grey = x.mean(axis=2, keepdims=True)
    return _u8(grey + (x - grey) * rng.uniform(0.7, 1.3))


def augment(img: np.ndarray, rng: np.random.Generator, p_distort: float = 0.7, frame="photo") -> np.ndarray:
    """Flip half the time, jitter, then with ``p_distort`` one random FACECOM distortion
    (``frame``: see the module doc; the trainer passes ``"crop"``)."""
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = jitter(np.ascontiguousarray(img), rng)
    if rng.random() < p_distort:
        img = DISTORTIONS[rng.choice(list(DISTORTIONS))](img, rng, frame=frame)
    return img
