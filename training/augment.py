"""The seven FACECOM distortions, fitted to real (clean, distorted) train pairs, plus flips
and colour jitter, on uint8 RGB images.

Every distortion is ``f(img, rng, *, style=None, frame="photo") -> img``: an H x W x 3 uint8
array in, one of the same shape and dtype out, randomness drawn from ``rng`` (reproducible
with a seeded Generator). The constants below come from ``python -m research.fit_distortions
../shared/data/facecom/train --pairs 200`` (table and evidence in
``docs/results/distortions.json``), which measured what FACECOM did to its photos:

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
  sigma, resize factor and rain-drop length are fractions of the photo's side; the noise,
  rain and resizing happen on a grid of :data:`NOISE_NATIVE` / :data:`RAIN_NATIVE` /
  :data:`RESIZE_NATIVE` pixels per photo side (the resolution FACECOM applied them at,
  before saving the photo at 224 px) and are resampled to the input.
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
# Fitted by research/fit_distortions.py on FACECOM train (757 identities; see the module doc).
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
# Median framing of the whole photo in aligned 112-px crops (MTCNN landmarks to the ArcFace
# template, 60 train clean photos of each style, all detected): the photo's side in crop
# sides and its centre in crop heights/widths. LFW faces fill more of their photos.
CROP_FRAMES = {"lfw": Frame(1.843, 0.556, 0.493), "frontal": Frame(2.639, 0.700, 0.498)}

# -- blurred: Gaussian blur, sigma a fraction of the photo side (2.3 px / 224 for LFW photos,
#    identical for every photo; NNN_frontal photos are barely blurred, 0.4 px / 224) ---------
BLUR_SIGMA = {"lfw": 2.3 / 224, "frontal": 0.4 / 224}
# -- resized: on a grid of RESIZE_NATIVE px per photo side (LFW: its original 250 px), down to
#    RESIZE_FACTOR of it (filter down), back up (filter up), back to the input's grid (bilinear).
#    NNN_frontal photos are unchanged (the best fit is the clean photo itself) ---------------
RESIZE_NATIVE = {"lfw": 250.0, "frontal": 224.0}
RESIZE_FACTOR = {"lfw": 0.5, "frontal": 1.0}
RESIZE_FILTERS = {"lfw": ("bilinear", "lanczos"), "frontal": ("bilinear", "lanczos")}
# -- lowlight: out = LOWLIGHT_GAIN * in ** LOWLIGHT_GAMMA (in [0, 1]), every channel, both
#    styles, every photo (linear fit: gain 0.2987, offset -0.3; log fit: gamma 1.02) ---------
LOWLIGHT_GAIN = 0.2987
LOWLIGHT_GAMMA = 1.0
# -- foggy: out = in * (1 - t) + FOG_LEVEL * t in every channel, t one fixed map over the photo
#    for every photo of both styles (FOG_MAP_HEX: 32 x 32, t * 255 as hex bytes, row-major,
#    sampled bilinearly; the pooled least-squares map of 282 pairs; mean 0.51, range 0.12-0.73)
FOG_LEVEL = 199.0
FOG_MAP_HEX = (
    "7f6f6d798a9799917f6851464e637a89929da9b2b4afa39585756c6d77838c8d"
    "8275747f8f9a9c9483705e5a657a8e9ba3abb4bbbcb8aea193867e7f86909797"
    "82797a85939c9d9688796e6e7a8d9ca6abb1b9bfc0bcb4a99e938d8c91979a98"
    "7f7c818b959b9b968c837e808b98a2a8abafb5babcbab4aca39b969596979690"
    "7b808991979997938e8a8a8d949ca1a2a2a4a8adb1b1ada8a09a989797958e84"
    "7b8791979895918e8d8d9094989a9a979493959aa0a2a29e989595979793897b"
    "7f8e989c99928c898a8e92979997938d878383888f9395938e8c909598958b7b"
    "87979fa19b918885888d929799969089827c7b7f858b8d8b86868d969d9d9586"
    "919fa6a69e928884878c92989a98928b847f7d7f8387898682828c99a3a7a296"
    "99a5abaaa3978c898b8f969b9e9d99938d8885848484827e797a8798a7afaea7"
    "9ca7adaea9a0989596999ea2a5a5a39f9b97938e888079706969788fa4b2b7b5"
    "9aa4abafaeaaa5a3a3a3a5a8aaababaaa8a6a29a8f8070625754627c98aeb9bc"
    "949da6acafafadaba9a8a8a8a9abadaeafafaca598846f5c4d434961819eb1ba"
    "8c949da6abadadaba9a6a3a0a0a3a7abaeb0b0aba08e77635140384361839eae"
    "878d959ea4a6a5a39f9b95919093999fa4a9adaca6988572614b362f4061839a"
    "868b91979a9a97938f89817b7a7e858c939ca5aaa9a19484745d402a2b456784"
    "888c8f918f8b847e7971696160656e77808b99a5aba8a09486704f2e202f4f6d"
    "888a8b877f756a625d564c444248535f69798ea0abaea9a094805e3518183150"
    "83837f7667574a43413d352c292f3c4a586d869dabb0aea79d8c6b3f1606132e"
    "7a7970604c392e2e3436312823263243566c869caaaeaca7a092764d22070618"
    "7370634f382926303f47453c33313a4d62788e9fa7a9a5a09c927d5d3a1f161e"
    "716c5e49352d34465965655b4f484e60758a9aa3a5a19b95938d806d57453c3c"
    "7571624f413f4c6175818177685e61718698a3a7a49b918b8a88837a71686260"
    "7f7a6d5c50515f748792918676696a798d9ea8aaa4988c8686868584817f7d7b"
    "8a867a6a5f606d7f919a998d7c6e6d7b8f9fa9aaa4988c868687888b8c8e8e8d"
    "959186786c6a7383939b998e7e71717f92a0a8a8a09285808083888e94989b9c"
    "9e9c93857871737e8a908e857a74788696a1a5a09381726e7379828c959da3a6"
    "a3a39d9182766f71777a78747276808d9aa19f927d655657616d7986919ba3a9"
    "a2a4a29a8d7c6e66635f5c5d667584919b9d958064483c445767758089919aa3"
    "9ca1a3a096877464574c454a5b72859198988a70503631425b6e797d7f838b97"
    "949ba2a5a093816f5d4c4144566e828d9390816749383c526c7e84817a757a89"
    "8d96a1a8a8a19382715f4f4c576a7c878b897c66514a546b8391938a7b6f6f7e"
)
# -- noisy: Gaussian noise (NOISE_SIGMA grey levels, per channel) plus a share NOISE_IMPULSE of
#    grey salt-and-pepper pixels (half 0, half 255), drawn on a grid of NOISE_NATIVE px per
#    photo side and resampled to the input. On NNN_frontal photos the grid is so fine (6x) that
#    the impulses average out into a contrast loss (out ~ 0.86 in + 18) and a faint grain. ---
NOISE_NATIVE = {"lfw": 236.0, "frontal": 1344.0}
NOISE_SIGMA = 20.0
NOISE_IMPULSE = 0.13
NOISE_PER_CHANNEL = True
# -- rainy: out = RAIN_GAIN * in + drops; drops are 1-px lines of RAIN_VALUE grey levels,
#    RAIN_LENGTH native px long (uniform), RAIN_ANGLE degrees from vertical (top left to bottom
#    right, the same in every photo), RAIN_DENSITY drop starts per native pixel, on a grid of
#    RAIN_NATIVE px per photo side (NNN_frontal: 10x finer, so drops blur into a faint haze) --
RAIN_NATIVE = {"lfw": 250.0, "frontal": 2240.0}
RAIN_GAIN = 0.79
RAIN_DENSITY = 0.02
RAIN_LENGTH = (6.0, 12.0)
RAIN_ANGLE = 14.5
RAIN_VALUE = 85.0
# -- sunny: out = min(in + glare(r), 255) in every channel. r is the distance to the photo
#    centre in photo sides (the image centre for a whole photo, within 1 px: it does not
#    follow the face), vertical distances counted SUN_ASPECT times: NNN_frontal glare is an
#    ellipse 1.5 times wider than tall (those photos were 2:3 portraits squeezed to a square).
#    glare(r) is tabulated every SUN_STEP (linear in between, held beyond the last knot) by a
#    censored least-squares fit (clipped pixels only bound it from below, so values where
#    every pixel is clipped, r < 0.08, are extrapolated). Identical for every photo of a style.
SUN_ASPECT = {"lfw": 1.0, "frontal": 1.5}
SUN_STEP = 0.02
SUN_ADD = {  # grey levels added at r = 0, SUN_STEP, 2 SUN_STEP, ...
    "lfw": np.array([284.6, 276.5, 268.4, 260.3, 252.1, 244.0, 235.9, 228.0, 220.4, 213.2, 206.3, 199.6, 192.8,
                     186.0, 179.1, 172.2, 165.4, 158.5, 151.6, 144.8, 138.1, 131.6, 125.4, 119.8, 115.1, 110.2,
                     102.3, 95.2, 88.5, 82.1, 75.9, 70.1, 65.1, 61.1, 58.1, 55.6, 53.1]),
    "frontal": np.array([289.0, 273.0, 257.0, 241.1, 225.1, 209.1, 193.4, 178.0, 163.2, 148.7, 134.3, 120.2,
                         106.1, 92.0, 77.9, 63.9, 49.9, 35.6, 21.1, 7.1, 0.0]),
}


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
    """The input's size on a grid of ``native_side`` pixels per photo side (at most 16x)."""
    h, w = img.shape[:2]
    k = min(native_side / side, 16.0)
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
    """Gaussian noise plus grey salt and pepper, drawn on a ``native`` (h, w) grid. Only the
    change the noise makes there is resampled to the input and added to it, so the photo
    itself is not blurred by the round trip."""
    h, w = img.shape[:2]
    x0 = _resample(img, *native).astype(np.float32)
    x = x0 + rng.normal(0, sigma, x0.shape[:2] + ((3,) if per_channel else (1,))).astype(np.float32)
    m = rng.random(x.shape[:2])
    x[m < impulse / 2] = 0
    x[(m >= impulse / 2) & (m < impulse)] = 255
    change = np.clip(x, 0, 255) - x0
    out = _u8_levels(img.astype(np.float32) + _resample(change, h, w, Image.BILINEAR))
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


def fog_map(hex_str: str | None = None) -> np.ndarray:
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
    native grid (NOISE_NATIVE px per photo side), resampled to the input, then JPEG q75."""
    style = _style(rng, style)
    side, _, _ = _frame(img, style, frame)
    return impulse_noise(img, rng, NOISE_SIGMA, NOISE_IMPULSE, NOISE_PER_CHANNEL,
                         native_size(img, NOISE_NATIVE[style], side))


def rainy(img, rng, *, style=None, frame="photo"):
    """Darken by RAIN_GAIN and add drops: 1-px lines of RAIN_VALUE grey levels, RAIN_LENGTH
    native px long, RAIN_ANGLE degrees from vertical, RAIN_DENSITY per native pixel, drawn on
    the native grid and resampled to the input; then JPEG q75."""
    style = _style(rng, style)
    side, _, _ = _frame(img, style, frame)
    return rain(img, rng, RAIN_GAIN, RAIN_DENSITY, RAIN_LENGTH, RAIN_ANGLE, RAIN_VALUE,
                native_size(img, RAIN_NATIVE[style], side))


def resized(img, rng, *, style=None, frame="photo"):
    """On the native grid (RESIZE_NATIVE px per photo side), down to RESIZE_FACTOR of it and
    back up, then back to the input's size: LFW photos end at 125 px per photo side."""
    style = _style(rng, style)
    if RESIZE_FACTOR[style] >= 1:
        return img.copy()
    side, _, _ = _frame(img, style, frame)
    h, w = img.shape[:2]
    work = _resample(img, *native_size(img, RESIZE_NATIVE[style], side))
    return _resample(down_up(work, RESIZE_FACTOR[style], *RESIZE_FILTERS[style]), h, w, Image.BILINEAR)


def sunny(img, rng, *, style=None, frame="photo"):
    """Additive grey glare centred on the photo's centre, clipped at 255; its profile
    SUN_ADD[style] is a function of the distance to the centre in photo sides (LFW photos:
    brightened over the whole frame, +255 or more within 0.1 of the side, +58 in the
    corners; NNN_frontal photos: a compact elliptical blob, 1.5 times wider than tall,
    falling linearly to 0 at 0.39 of the side horizontally)."""
    style = _style(rng, style)
    side, cy, cx = _frame(img, style, frame)
    v, u = _photo_coords(img, side, cy, cx)
    r = np.hypot(SUN_ASPECT[style] * (v - 0.5), u - 0.5)
    add = SUN_ADD[style]
    glare = np.interp(r, SUN_STEP * np.arange(len(add)), add).astype(np.float32)[..., None]
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
