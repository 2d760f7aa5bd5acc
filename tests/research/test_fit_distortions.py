"""The fitting code recovers known parameters from synthetic pairs (no data set needed)."""
import numpy as np

from training import augment as A
from research.distortion_stats import censored_profile, fog_fit, noise_stats, radius, style_of


def photos(n=6, size=96, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):  # smooth random photos with the full range of grey levels
        x = rng.random((size // 8, size // 8, 3))
        x = np.kron(x, np.ones((8, 8, 1)))
        out.append((x * 255).astype(np.uint8))
    return out


def test_styles_follow_facecom_names():
    assert style_of("001_frontal") == "frontal" and style_of("Aaron_Peirsol") == "lfw"
    assert style_of("frontal_Smith") == "lfw"


def test_censored_profile_recovers_the_glare_even_where_it_clips():
    xy = [(p.astype(np.float32), A.sunny(p, None, style="lfw").astype(np.float32)) for p in photos()]
    knots = np.round(np.arange(0, 0.72, 0.02), 3)
    fit = censored_profile(xy, knots, step=1)
    want = np.interp(knots, A.SUN_STEP * np.arange(len(A.SUN_ADD["lfw"])), A.SUN_ADD["lfw"])
    seen = (knots > 0.15) & (knots < 0.68)  # inside: every pixel clipped; outside: corners only
    assert np.abs(fit - want)[seen].max() < 6


def test_elliptical_glare_is_measured_with_its_aspect():
    img = np.full((90, 90, 3), 40, np.uint8)
    out = A.sunny(img, None, style="frontal").astype(int)
    def spread(aspect):  # of the glare around a ring 0.2 +- 0.01 from the centre
        return np.ptp(out[..., 0][np.abs(radius(img.shape, aspect=aspect) - 0.2) < 0.01])
    assert spread(A.SUN_ASPECT["frontal"]) <= 16 < 40 < spread(1.0)  # the ring's width alone makes ~14


def test_fog_fit_recovers_level_and_map():
    xy = [(p.astype(np.float32), A.foggy(p, None, style="lfw").astype(np.float32)) for p in photos(12)]
    t, level = fog_fit(xy)
    assert abs(level - A.FOG_LEVEL) < 2
    v, u = np.meshgrid((np.arange(96) + 0.5) / 96, (np.arange(96) + 0.5) / 96, indexing="ij")
    assert np.abs(t - A.sample_map(A.fog_map(), v, u)).mean() < 0.02


def test_noise_contrast_slope_is_one_minus_the_impulses():
    a = photos(1, size=128)[0]
    b = A.impulse_noise(a, np.random.default_rng(0), 0.0, 0.2, False, (128 * 8, 128 * 8), quality=None)
    assert abs(noise_stats(a.astype(np.float32), b.astype(np.float32))["slope"] - 0.8) < 0.02
