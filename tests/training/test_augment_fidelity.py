"""The synthetic distortions (training/augment.py) against the real ones, on real FACECOM
train pairs: each synthetic function is applied to the clean photo and a statistic is
compared with the real distorted copy. Skipped where the data set is absent.

Pairs are drawn with a different seed from the one ``research.fit_distortions`` fitted on,
both styles (LFW-named identities and NNN_frontal ones), ~20 per kind.
"""
import inspect
from pathlib import Path

import numpy as np
import pytest

from training import augment
from research.distortion_stats import (ac_ray, find_pairs, glare_profile, grey, noise_stats, rain_stats,
                                      sharpness)

FACECOM = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "data" / "facecom"
pytestmark = pytest.mark.skipif(not (FACECOM / "train").is_dir(), reason="FACECOM data set not present")


@pytest.fixture(scope="module")
def pairs():
    root = FACECOM / "train"
    return (find_pairs(root, 14, seed=1, styles=("lfw",)) + find_pairs(root, 6, seed=1, styles=("frontal",)))


def synth(kind, clean, style, seed=0):
    """The synthetic ``kind`` of a clean photo as FACECOM's ``style`` (when the function
    knows styles), float32 like the real photos."""
    f = augment.DISTORTIONS[kind]
    kw = {"style": style} if "style" in inspect.signature(f).parameters else {}
    return f(clean.astype(np.uint8), np.random.default_rng(seed), **kw).astype(np.float32)


def triples(pairs, kind, style=None):
    out = []
    for i, p in enumerate(pairs):
        if style in (None, p.style):
            a = p.load()
            out.append((p, a, p.load(kind), synth(kind, a, p.style, seed=i)))
    return out


def sector_medians(xy, r0, sectors=8):
    """Median distorted - clean (unclipped pixels) in each of ``sectors`` directions, on the
    ring of radius ``r0`` +- 0.01 photo sides around the centre."""
    h, w = xy[0][0].shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = (yy + 0.5 - h / 2) / min(h, w), (xx + 0.5 - w / 2) / min(h, w)
    ring = np.abs(np.hypot(dy, dx) - r0) < 0.01
    sector = np.floor((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * sectors)
    out = []
    for k in range(sectors):
        v = np.concatenate([(grey(b) - grey(a))[ring & (sector == k) & (b < 250).all(axis=2)] for a, b in xy])
        out.append(np.median(v) if len(v) > 30 else np.nan)
    return np.array(out)


@pytest.mark.parametrize("style", ["lfw", "frontal"])
def test_sunny_glare_profile_matches(pairs, style):
    """Median added brightness in rings around the photo centre (unclipped pixels), and the
    share of saturated pixels."""
    t = triples(pairs, "sunny", style)
    edges = np.arange(0.08, 0.70, 0.04)
    real = glare_profile([(a, b) for _, a, b, _ in t], edges)
    fake = glare_profile([(a, s) for _, a, _, s in t], edges)
    both = np.isfinite(real) & np.isfinite(fake)
    assert both.sum() >= 8
    assert np.abs(real - fake)[both].max() < 15, np.round(np.c_[edges[:-1], real, fake], 1)
    # by direction too: FACECOM's frontal glare is an ellipse, wider than tall
    for r0 in (0.16, 0.2, 0.24, 0.3):
        real_s = sector_medians([(a, b) for _, a, b, _ in t], r0)
        fake_s = sector_medians([(a, s) for _, a, _, s in t], r0)
        both = np.isfinite(real_s) & np.isfinite(fake_s)
        assert np.abs(real_s - fake_s)[both].max(initial=0) < 15, (r0, np.round(real_s), np.round(fake_s))
    sat_real = np.mean([(b >= 250).all(axis=2).mean() for _, _, b, _ in t])
    sat_fake = np.mean([(s >= 250).all(axis=2).mean() for _, _, _, s in t])
    assert abs(sat_real - sat_fake) < 0.04, (sat_real, sat_fake)


def test_blur_sharpness_ratio_matches(pairs):
    err = [sharpness(s) / sharpness(a) - sharpness(b) / sharpness(a) for _, a, b, s in triples(pairs, "blurred")]
    assert np.median(np.abs(err)) < 0.03 and np.max(np.abs(err)) < 0.08, np.round(err, 3)


def test_resize_matches(pairs):
    t = triples(pairs, "resized")
    err = [sharpness(s) / sharpness(a) - sharpness(b) / sharpness(a) for _, a, b, s in t]
    assert np.median(np.abs(err)) < 0.03 and np.max(np.abs(err)) < 0.08, np.round(err, 3)
    lfw = [(a, b, s) for p, a, b, s in t if p.style == "lfw"]
    rmse = lambda x, y: float(np.sqrt(((x - y) ** 2).mean()))  # noqa: E731
    # the synthetic copy is much closer to the real one than the clean photo is
    assert np.mean([rmse(s, b) for a, b, s in lfw]) < 0.7 * np.mean([rmse(a, b) for a, b, s in lfw])


def test_lowlight_brightness_ratio_matches(pairs):
    for _, a, b, s in triples(pairs, "lowlight"):
        assert abs(s.mean() / a.mean() - b.mean() / a.mean()) < 0.01
        # the same in every channel
        assert np.abs(s.mean((0, 1)) / a.mean((0, 1)) - b.mean((0, 1)) / a.mean((0, 1))).max() < 0.015


def test_fog_matches_pixel_by_pixel(pairs):
    """FACECOM's fog is one fixed pattern: the synthetic fog must be where the real one is."""
    for p, a, b, s in triples(pairs, "foggy"):
        corr = np.corrcoef((grey(s) - grey(a)).ravel(), (grey(b) - grey(a)).ravel())[0, 1]
        rmse = float(np.sqrt(((s - b) ** 2).mean()))
        assert corr > 0.95 and rmse < 5, (p.identity, corr, rmse)


@pytest.mark.parametrize("style", ["lfw", "frontal"])
def test_noise_residual_matches(pairs, style):
    """Quantiles of distorted - clean on mid-grey pixels (heavy tails: salt and pepper),
    the colour part of the noise, and the contrast it costs (slope of distorted on clean)."""
    t = triples(pairs, "noisy", style)
    real = [noise_stats(a, b) for _, a, b, _ in t]
    fake = [noise_stats(a, s) for _, a, _, s in t]
    rq, fq = np.nanmedian([r["q"] for r in real], 0), np.nanmedian([f["q"] for f in fake], 0)
    assert (np.abs(fq - rq) <= np.maximum(0.25 * np.abs(rq), 4)).all(), (np.round(rq, 1), np.round(fq, 1))
    rc, fc = np.median([r["chroma_std"] for r in real]), np.median([f["chroma_std"] for f in fake])
    assert abs(rc - fc) < 2.5, (rc, fc)
    slope = lambda a, b: np.polyfit(grey(a).ravel(), grey(b).ravel(), 1)[0]  # noqa: E731
    rs, fs = np.median([slope(a, b) for _, a, b, _ in t]), np.median([slope(a, s) for _, a, _, s in t])
    assert abs(rs - fs) < 0.04, (rs, fs)


@pytest.mark.parametrize("style", ["lfw", "frontal"])
def test_rain_layer_matches(pairs, style):
    """The rain layer distorted - 0.8 * clean: its mean, spread and coverage over 30 grey
    levels, and (LFW, where drops are resolved) the direction of the drops."""
    t = triples(pairs, "rainy", style)
    real = [rain_stats(a, b, 0.8) for _, a, b, _ in t]
    fake = [rain_stats(a, s, 0.8) for _, a, _, s in t]
    med = lambda st, k: float(np.median([x[k] for x in st]))  # noqa: E731
    assert abs(med(real, "mean") - med(fake, "mean")) < 3, (med(real, "mean"), med(fake, "mean"))
    assert abs(med(real, "std") - med(fake, "std")) < 0.2 * med(real, "std") + 1, (med(real, "std"), med(fake, "std"))
    assert abs(med(real, "cover30") - med(fake, "cover30")) < 0.03, (med(real, "cover30"), med(fake, "cover30"))
    if style == "lfw":
        angles = np.arange(-45, 46, 1.0)

        def angle(st):
            ac = np.mean([x["ac"] for x in st], 0)
            return angles[int(np.argmax([np.mean([ac_ray(ac, a, r) for r in (4, 6, 8)]) for a in angles]))]
        assert abs(angle(real) - angle(fake)) <= 5, (angle(real), angle(fake))


@pytest.mark.parametrize("kind", sorted(augment.DISTORTIONS))
def test_random_where_facecom_is_random(pairs, kind):
    """Noise and rain drops differ between draws; the other kinds are deterministic per
    photo (given the style), as in FACECOM."""
    p = pairs[0]
    a = p.load()
    one, two = synth(kind, a, p.style, seed=1), synth(kind, a, p.style, seed=2)
    assert np.array_equal(one, two) == (kind not in ("noisy", "rainy"))
