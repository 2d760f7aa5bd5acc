"""The seven FACECOM distortions, plus flips and colour jitter, on uint8 RGB crops.

Each function maps an H x W x 3 uint8 array to one of the same shape and dtype, drawing
its randomness from the ``rng`` passed in (reproducible with a seeded Generator).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter


def _f(img):
    return img.astype(np.float32) / 255.0


def _u8(x):
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def blurred(img, rng):
    r = rng.uniform(1.0, 3.0)
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(r)))


def foggy(img, rng):
    a = rng.uniform(0.35, 0.7)
    haze = rng.uniform(0.75, 0.95)
    return _u8(_f(img) * (1 - a) + haze * a)


def lowlight(img, rng):
    gamma, gain = rng.uniform(1.5, 3.0), rng.uniform(0.25, 0.6)
    return _u8(gain * _f(img) ** gamma)


def noisy(img, rng):
    return _u8(_f(img) + rng.normal(0, rng.uniform(0.04, 0.15), img.shape))


def rainy(img, rng):
    h, w, _ = img.shape
    streaks = np.zeros((h, w), np.float32)
    n = int(rng.uniform(0.01, 0.04) * h * w)
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    length, slant = int(rng.integers(4, max(5, h // 8))), rng.uniform(-0.4, 0.4)
    for t in range(length):
        streaks[np.clip(ys + t, 0, h - 1), np.clip((xs + slant * t).astype(int), 0, w - 1)] = 1
    x = _f(img) * (1 - 0.1) + 0.1 * 0.7
    return _u8(np.maximum(x, streaks[..., None] * rng.uniform(0.6, 0.9)))


def resized(img, rng):
    h, w, _ = img.shape
    f = rng.uniform(0.2, 0.5)
    small = Image.fromarray(img).resize((max(4, int(w * f)), max(4, int(h * f))), Image.BILINEAR)
    return np.asarray(small.resize((w, h), Image.BILINEAR))


def sunny(img, rng):
    """A bright glare blob (screen-blended) over part of the face, plus a warm cast."""
    h, w, _ = img.shape
    cy, cx = rng.uniform(0.25, 0.6) * h, rng.uniform(0.3, 0.7) * w
    sigma = rng.uniform(0.2, 0.45) * max(h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    glare = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))[..., None]
    strength = rng.uniform(0.7, 1.0)
    x = _f(img) * rng.uniform(1.0, 1.3)
    x = 1 - (1 - x) * (1 - strength * glare * np.array([1.0, 0.97, 0.9], np.float32))
    return _u8(x)


DISTORTIONS = {f.__name__: f for f in (blurred, foggy, lowlight, noisy, rainy, resized, sunny)}


def jitter(img, rng):
    x = _f(img)
    x = x * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
    grey = x.mean(axis=2, keepdims=True)
    return _u8(grey + (x - grey) * rng.uniform(0.7, 1.3))


def augment(img: np.ndarray, rng: np.random.Generator, p_distort: float = 0.7) -> np.ndarray:
    """Flip half the time, jitter, then with ``p_distort`` one random FACECOM distortion."""
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = jitter(np.ascontiguousarray(img), rng)
    if rng.random() < p_distort:
        img = DISTORTIONS[rng.choice(list(DISTORTIONS))](img, rng)
    return img
