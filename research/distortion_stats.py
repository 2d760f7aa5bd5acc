"""Statistics of FACECOM's distortions on (clean, distorted) photo pairs: finding the
pairs, the measures that ``research.fit_distortions`` fits and
``tests/training/test_augment_fidelity.py`` compares (glare profile, noise and rain
residuals, sharpness, fog transmission), and the report table of a fit.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from training import augment as A

KINDS = ("blurred", "foggy", "lowlight", "noisy", "rainy", "resized", "sunny")
_FRONTAL = re.compile(r"\d+_frontal")
MID = (90, 170)  # clean grey levels whose noise is rarely clipped


def style_of(identity: str) -> str:
    return "frontal" if _FRONTAL.fullmatch(identity) else "lfw"


@dataclass
class Pair:
    identity: str
    style: str
    clean: Path
    distorted: dict

    def load(self, kind: str = "clean") -> np.ndarray:
        return read(self.clean if kind == "clean" else self.distorted[kind])


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float32)


def find_pairs(root: str | Path, n: int, seed: int = 0, styles=("lfw", "frontal")) -> list[Pair]:
    """Up to ``n`` clean photos of each style with all seven distorted copies, chosen
    deterministically by ``seed`` (sorted by path)."""
    by_style: dict[str, list[Pair]] = {s: [] for s in styles}
    for person in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        style = style_of(person.name)
        if style not in by_style:
            continue
        for clean in sorted(person.glob("*.jpg")):
            d = {k: person / "distortion" / f"{clean.stem}_{k}.jpg" for k in KINDS}
            if all(p.is_file() for p in d.values()):
                by_style[style].append(Pair(person.name, style, clean, d))
    out = []
    for style, pairs in by_style.items():
        rnd = random.Random(f"{seed}-{style}")
        out += sorted(rnd.sample(pairs, min(n, len(pairs))), key=lambda p: str(p.clean))
    return out


def count_photos(root) -> dict:
    counts = {"lfw": 0, "frontal": 0}
    for person in Path(root).iterdir():
        if person.is_dir():
            counts[style_of(person.name)] += len(list(person.glob("*.jpg")))
    return counts


# -- statistics (also used by tests/training/test_augment_fidelity.py) ------------------------
def grey(x):
    return x.mean(axis=2)


def sharpness(x) -> float:
    g = grey(np.asarray(x, np.float32))
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def glare_profile(pairs_xy, edges, cy=None, cx=None, clip=250.0, min_n=50, aspect=1.0) -> np.ndarray:
    """Median of distorted - clean over unclipped pixels (distorted < clip) in each ring
    [edges[i], edges[i+1]) of distance to the centre (image sides); NaN where too few."""
    vals = [[] for _ in range(len(edges) - 1)]
    for a, b in pairs_xy:
        r = np.repeat(radius(a.shape, cy, cx, aspect)[..., None], 3, axis=2)
        ok = b < clip
        d = b - a
        idx = np.digitize(r, edges) - 1
        for i in range(len(edges) - 1):
            m = ok & (idx == i)
            vals[i].append(d[m])
    out = []
    for v in vals:
        v = np.concatenate(v)
        out.append(float(np.median(v)) if len(v) >= min_n else np.nan)
    return np.array(out)


def noise_stats(a, b) -> dict:
    """Residual of a noisy photo: quantiles on mid-grey pixels, chroma std, lag-1 autocorr,
    and the contrast left (slope of distorted on clean: 1 - the share of impulses)."""
    e = grey(b) - grey(a)
    la = grey(a)
    mid = (la > MID[0]) & (la < MID[1])
    q = np.percentile(e[mid], [1, 5, 25, 50, 75, 95, 99]) if mid.sum() > 100 else np.full(7, np.nan)
    z = e - e.mean()
    f = np.abs(np.fft.fft2(z)) ** 2
    ac = np.real(np.fft.ifft2(f))
    ac /= ac[0, 0]
    d = b - a
    chroma = d - d.mean(axis=2, keepdims=True)
    return {"q": q, "std": float(e[mid].std()) if mid.any() else np.nan,
            "chroma_std": float(chroma.std()), "ac1": float((ac[0, 1] + ac[1, 0]) / 2),
            "slope": float(np.polyfit(la.ravel(), grey(b).ravel(), 1)[0])}


def rain_stats(a, b, gain) -> dict:
    """The drop layer distorted - gain * clean (grey): mean, coverage over 30 levels,
    quantiles, and its autocorrelation (for angle and length)."""
    e = grey(b) - gain * grey(a)
    z = e - e.mean()
    f = np.abs(np.fft.fft2(z)) ** 2
    ac = np.fft.fftshift(np.real(np.fft.ifft2(f)))
    ac /= ac.max()
    return {"mean": float(e.mean()), "cover30": float((e > 30).mean()),
            "q": np.percentile(e, [50, 90, 99]), "std": float(z.std()), "ac": ac}


def ac_ray(ac, angle_deg, r) -> float:
    """Autocorrelation at distance r along ``angle_deg`` from vertical (down, towards +x)."""
    cy, cx = ac.shape[0] // 2, ac.shape[1] // 2
    y = cy + r * np.cos(np.radians(angle_deg))
    x = cx + r * np.sin(np.radians(angle_deg))
    return float(ndimage.map_coordinates(ac, [[y], [x]], order=1)[0])


def fog_fit(pairs_xy, level=None):
    """Per-pixel least squares over pairs of distorted - clean = t * (A - clean) (grey
    levels pooled over channels). With ``level`` None, A is fitted too (per pixel, then its
    median where t > 0.2). Returns (t map, A). ``pairs_xy`` may be a generator."""
    pairs_xy = list(pairs_xy) if level is None else pairs_xy
    if level is None:  # d = tA - t a: per-pixel regression of d on a
        n = sa = sd = saa = sad = 0
        for a, b in pairs_xy:
            d = b - a
            n += 3
            sa, sd = sa + a.sum(2), sd + d.sum(2)
            saa, sad = saa + (a * a).sum(2), sad + (a * d).sum(2)
        am, dm = sa / n, sd / n
        var = saa / n - am ** 2
        t = -(sad / n - am * dm) / np.maximum(var, 1e-6)
        lev = (dm + t * am) / np.where(np.abs(t) > 1e-3, t, np.nan)
        good = (t > 0.2) & (var > 400)
        level = float(np.nanmedian(lev[good]))
    num = den = 0
    for a, b in pairs_xy:
        w = level - a
        num, den = num + (w * (b - a)).sum(2), den + (w * w).sum(2)
    return num / np.maximum(den, 1e-6), level


def fog_t_single(a, b, level, sigma=3.0):
    """One photo's transmission map, smoothed, where clean is far enough from the fog level."""
    w = level - grey(a)
    ok = np.abs(w) > 40
    t = np.where(ok, (grey(b) - grey(a)) / np.where(ok, w, 1), 0)
    num = ndimage.gaussian_filter(t * ok, sigma)
    den = ndimage.gaussian_filter(ok.astype(np.float32), sigma)
    return np.where(den > 0.3, num / np.maximum(den, 1e-6), np.nan)


def highpass(x, sigma=2.0):
    """What a photo-content-driven change (a contrast loss) leaves out: the fine grain."""
    return x - ndimage.gaussian_filter(x, sigma)


def masked_corr(x, y) -> float:
    m = np.isfinite(x) & np.isfinite(y)
    if m.sum() < 100:
        return float("nan")
    return float(np.corrcoef(x[m], y[m])[0, 1])


def map_to_hex(t: np.ndarray, n: int) -> str:
    small = np.asarray(Image.fromarray(t.astype(np.float32), "F").resize((n, n), Image.BOX))
    return bytes(np.clip(np.round(small * 255), 0, 255).astype(np.uint8).ravel()).hex()


# -- fits ------------------------------------------------------------------------------------
def q(x, qs=(25, 50, 75)):
    return [round(float(v), 4) for v in np.percentile(x, qs)]


def resize_model(im: Image.Image, native: int, n: int, down: str, up: str) -> np.ndarray:
    """Photo ``im`` (224 px) resampled to ``native`` px, down to ``n`` px per 224 of it
    with filter ``down``, back up with ``up``, and back to 224 (bilinear)."""
    w, h = im.size
    x = im.resize((native, native), Image.BICUBIC) if native != w else im
    nn = round(n * native / w)
    if nn < native:
        x = x.resize((nn, nn), A._FILTERS[down]).resize((native, native), A._FILTERS[up])
    if native != w:
        x = x.resize((w, h), Image.BILINEAR)
    return np.asarray(x).astype(np.float32)


SUN_STEP = 0.02  # knot spacing of the glare profile, in photo sides


def radius(shape, cy=None, cx=None, aspect=1.0) -> np.ndarray:
    """Distance of each pixel centre to (cy, cx) (default the image centre), in image sides;
    vertical distances count ``aspect`` times (an ellipse ``aspect`` times wider than tall)."""
    h, w = shape[:2]
    cy = h / 2 if cy is None else cy
    cx = w / 2 if cx is None else cx
    yy, xx = np.mgrid[0:h, 0:w]
    return np.hypot(aspect * (yy + 0.5 - cy), xx + 0.5 - cx) / min(h, w)


def censored_profile(xy, knots, aspect=1.0, step=2, smooth=1e-3, lo=245.0, hi=252.0):
    """Piecewise-linear glare g(r) at ``knots`` fitted to every pixel (every ``step``-th
    row and column): unclipped ones (distorted < ``lo``) by least squares on distorted -
    clean = g(r); clipped ones (distorted >= ``hi``) only ask clean + g(r) >= 255. Unlike
    ring medians of unclipped pixels it is not biased low where a ring is partly clipped."""
    from scipy.optimize import minimize
    r_, a_, b_ = [], [], []
    for a, b in xy:
        r = np.repeat(radius(a.shape, aspect=aspect)[..., None], 3, axis=2)
        r_.append(r[::step, ::step].ravel())
        a_.append(a[::step, ::step].ravel())
        b_.append(b[::step, ::step].ravel())
    r, a, b = (np.concatenate(v) for v in (r_, a_, b_))
    spacing = knots[1] - knots[0]
    pos = np.clip(r / spacing, 0, len(knots) - 1 - 1e-6)
    i = pos.astype(int)
    f = pos - i
    unc, clp, d = b < lo, b >= hi, b - a

    def loss(wt):
        g = wt[i] * (1 - f) + wt[i + 1] * f
        res = np.where(unc, g - d, 0.0) + np.where(clp, np.minimum(0.0, a + g - 255.0), 0.0)
        grad = 2 * res
        gw = np.bincount(i, grad * (1 - f), len(knots)) + np.bincount(i + 1, grad * f, len(knots))
        d2 = np.diff(wt, 2)
        pen = smooth * len(r) * (d2 ** 2).sum()
        gpen = np.zeros_like(wt)
        gpen[:-2] += 2 * d2
        gpen[1:-1] -= 4 * d2
        gpen[2:] += 2 * d2
        return ((res ** 2).sum() + pen) / len(r), (gw + smooth * len(r) * gpen) / len(r)
    fit = minimize(loss, np.full(len(knots), 100.0), jac=True, method="L-BFGS-B", bounds=[(0, 300)] * len(knots))
    return fit.x


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return x


def markdown(r: dict, command: str) -> str:
    """The fitted models as a table (kind, style, model, parameters, evidence)."""
    lines = ["# FACECOM distortions, fitted on train pairs", "",
             "Produced by", "", "```", command, "```", "",
             f"on {r['pairs']['lfw']} LFW-named and {r['pairs']['frontal']} NNN_frontal clean train photos, each "
             f"with its seven distorted copies (train has {r['photos']['lfw']} + {r['photos']['frontal']} clean "
             f"photos: frontal share {r['frontal_share']}). Distances and sizes are in units of the photo side "
             "(224 px); 'native' grids are in pixels per photo side. The constants in `training/augment.py` are "
             "these numbers.", "",
             "| kind | style | model | parameters | evidence (real pairs) |", "|---|---|---|---|---|"]
    b, f, lo, n, ra, rs, su = (r.get(k, {}) for k in ("blurred", "foggy", "lowlight", "noisy", "rainy", "resized",
                                                      "sunny"))
    for st in ("lfw", "frontal"):
        if st in su:
            x = su[st]
            knots = dict(zip(x["profile_r"], x["profile_add"]))
            pts = ", ".join(f"{k:g}: +{knots[k]:.0f}" for k in (0.06, 0.1, 0.18, 0.28, 0.3, 0.38, 0.44, 0.5, 0.6, 0.7)
                            if k in knots)
            lines.append(f"| sunny | {st} | out = min(in + g(r), 255), every channel; r from the photo centre, "
                         f"vertical distances x{x['aspect_vertical']}; deterministic | g(r) at r = {pts} "
                         f"(censored least squares, every 0.02 in augment.py) | centre offset "
                         f"{x['centre_offset_px_y_x']} px; channel offsets {x['channel_offset_median']}; slope of "
                         f"diff on clean {x['slope_vs_clean_median']}; add at r 0.21 per photo "
                         f"{x['per_photo_add_at_r0.21_q']} (q25/50/75); saturated {x['saturated_fraction_real']} "
                         f"(model {x['saturated_fraction_model']}) |")
    pooled = f.get("pooled", {})
    for st in ("lfw", "frontal"):
        if st in f:
            x = f[st]
            lines.append(f"| foggy | {st} | out = in (1 - t(x, y)) + A t(x, y), every channel; one fixed map t for "
                         f"every photo and both styles | A = {pooled.get('level_A')}; t: mean {x['t_mean']}, std "
                         f"{x['t_std']}, p1-p99 {x['t_p1_p99']} (32 x 32 grid, rmse {pooled.get('grid_rmse')}) | "
                         f"affine per channel a {x['affine_slope_per_channel_median']}, b "
                         f"{x['affine_offset_per_channel_median']}; each photo's map vs pooled: r "
                         f"{x['photo_map_corr_with_pooled_q']}; lfw vs frontal map r {f.get('map_corr_lfw_frontal')}; "
                         f"model rmse {x['model_rmse_q']} |")
    for st in ("lfw", "frontal"):
        if st in lo:
            x = lo[st]
            lines.append(f"| lowlight | {st} | out = gain * in, every channel; deterministic | gain "
                         f"{x['linear_gain_q'][1]} (linear; offset {x['linear_offset_q'][1]}) | gamma fit "
                         f"{x['gamma_q']}; mean ratio {x['mean_ratio_q']} |")
    m = n.get("model", {})
    for st in ("lfw", "frontal"):
        if st in n:
            x = n[st]
            native = m.get("native_side_lfw") if st == "lfw" else m.get("native_side_frontal")
            sim = m.get("sim_residual_q_and_slope") if st == "lfw" else m.get("sim_residual_q_and_slope_frontal")
            lines.append(f"| noisy | {st} | Gaussian (per channel) + grey salt and pepper on a native grid, "
                         f"change resampled to the photo, JPEG q75; random | sigma {m.get('sigma')}, impulses "
                         f"{m.get('impulse')}, native {native} | residual q1/5/25/50/75/95/99 "
                         f"{x['residual_q1_5_25_50_75_95_99']} (model {sim[:7] if sim else None}); contrast slope "
                         f"{x['contrast_slope_q'][1] if 'contrast_slope_q' in x else None} (model "
                         f"{sim[7] if sim else None}); chroma std {x['chroma_std_q'][1]}; photo-to-photo r of fine "
                         f"grain {x['cross_photo_corr_median']} |")
    m = ra.get("model", {})
    for st in ("lfw", "frontal"):
        if st in ra:
            x = ra[st]
            native = m.get("native_side_lfw") if st == "lfw" else m.get("native_side_frontal")
            lines.append(f"| rainy | {st} | out = gain * in + drops (1-px lines, grey) on a native grid, JPEG q75; "
                         f"random drops | gain {x['gain']}, {m.get('density')} drops per native px, length "
                         f"{m.get('length')} native px, {m.get('angle')} deg from vertical, +{m.get('value')}, "
                         f"native {native} | layer mean {x['layer_mean_q'][1]}, std {x['layer_std_q'][1]}, over 30: "
                         f"{x['cover_over_30_q'][1]}, q50/90/99 {x['layer_q50_90_99']}; autocorr along "
                         f"{x['autocorr_along']}; photo-to-photo r {x['cross_photo_corr_median']} |")
    for st in ("lfw", "frontal"):
        if st in b:
            x = b[st]
            lines.append(f"| blurred | {st} | Gaussian blur; deterministic | sigma {x['sigma_px224_q25_50_75'][1]} px "
                         f"of 224 ({x['sigma_rel']} of the side) | per-photo sigma q25/50/75 "
                         f"{x['sigma_px224_q25_50_75']}; sharpness ratio {x['sharpness_ratio_q']}; rmse cut "
                         f"{x['rmse_reduction_median']} |")
    for st in ("lfw", "frontal"):
        if st in rs:
            x = rs[st]
            model = (f"native {x['native_side']} px, down to {x['factor']} ({x['down']}), up ({x['up']}), back to "
                     "224 (bilinear)" if x["factor"] < 1 else "unchanged (the clean photo is the best fit)")
            lines.append(f"| resized | {st} | down-scale and back; deterministic | {model} | rmse {x['rmse']} vs "
                         f"{x['rmse_identity']} for the clean photo; runners-up {x['runners_up']}; per-photo best "
                         f"size {x['per_photo_best_side_q']}; sharpness ratio {x['sharpness_ratio_q']} |")
    fr = r.get("frames", {})
    if fr:
        lines += ["", "Aligned 112-px crops (MTCNN + ArcFace template) see the photo at (side in crop sides, "
                  "centre y, centre x): " + "; ".join(f"{st} {x['frame']} ({x['detected']}/{x['n']} detected)"
                                                      for st, x in fr.items()) + "."]
    return "\n".join(lines) + "\n"
