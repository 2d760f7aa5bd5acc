"""The two random FACECOM distortions, noise and rain, fitted by simulation: the model of
``training/augment.py`` is run on the clean photos for a grid of parameters and the one
whose statistics match the real distorted copies best is kept (see
``research.fit_distortions``).
"""
from __future__ import annotations

import numpy as np

from training import augment as A
from .distortion_stats import ac_ray, grey, highpass, noise_stats, q, rain_stats

def fit_noise(pairs, n_sim=12, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    real = {}
    for style in ("lfw", "frontal"):
        sel = [p for p in pairs if p.style == style]
        if not sel:
            continue
        xy = [(p.load(), p.load("noisy")) for p in sel]
        st = [noise_stats(a, b) for a, b in xy]
        es = [highpass(grey(b) - grey(a)).ravel() for a, b in xy[:8]]
        cross = np.corrcoef(es)[np.triu_indices(len(es), 1)] if len(es) > 1 else np.array([np.nan])
        real[style] = (xy[:n_sim], st)
        qs = np.nanmedian([s["q"] for s in st], 0)
        out[style] = {"n": len(sel), "residual_q1_5_25_50_75_95_99": [round(float(v), 1) for v in qs],
                      "residual_std_q": q([s["std"] for s in st]), "chroma_std_q": q([s["chroma_std"] for s in st]),
                      "ac1_q": q([s["ac1"] for s in st]), "contrast_slope_q": q([s["slope"] for s in st]),
                      "cross_photo_corr_median": round(float(np.median(cross)), 3),
                      "tail_ratio_q99_over_q75": round(float(qs[6] / max(qs[4], 1e-6)), 2),
                      "gaussian_tail_ratio": 3.45, "random": bool(np.median(cross) < 0.2)}

    def score(style, sigma, impulse, per_channel, native_side):
        xy, st = real[style]
        sims = []
        for a, _ in xy:
            u8 = a.astype(np.uint8)
            native = A.native_size(u8, native_side, min(u8.shape[:2]))
            out_ = A.impulse_noise(u8, rng, sigma, impulse, per_channel, native)
            sims.append(noise_stats(a, out_.astype(np.float32)))
        rq = np.nanmedian([s["q"] for s in st], 0)
        sq = np.nanmedian([s["q"] for s in sims], 0)
        err = float(np.mean(np.abs(sq - rq) / np.maximum(np.abs(rq), 5)))
        err += abs(np.median([s["chroma_std"] for s in sims]) - np.median([s["chroma_std"] for s in st])) / 10
        err += 10 * abs(np.median([s["slope"] for s in sims]) - np.median([s["slope"] for s in st]))
        return err, [round(float(v), 1) for v in sq] + [round(float(np.median([s["slope"] for s in sims])), 3)]

    if "lfw" in real:
        best = None
        for native in (224, 236, 250):
            for sigma in (5, 10, 15, 20, 25):
                for impulse in (0.12, 0.13, 0.14, 0.15, 0.16, 0.175):
                    for pc in (False, True):
                        e, sq = score("lfw", sigma, impulse, pc, native)
                        if best is None or e < best[0]:
                            best = (e, native, sigma, impulse, pc, sq)
        e, native, sigma, impulse, pc, sq = best
        out["model"] = {"native_side_lfw": native, "sigma": sigma, "impulse": impulse, "per_channel": pc,
                        "fit_error": round(e, 4), "sim_residual_q_and_slope": sq}
        if "frontal" in real:
            res = []
            for k in (4, 6, 8, 10, 12, 14, 16):
                ef, sqf = score("frontal", sigma, impulse, pc, 224 * k)
                res.append((ef, k, sqf))
            ef, k, sqf = min(res)
            out["model"].update(native_side_frontal=224 * k, fit_error_frontal=round(ef, 4),
                                sim_residual_q_and_slope_frontal=sqf,
                                frontal_scan={str(224 * kk): round(e_, 4) for e_, kk, _ in res})
    return out


def fit_rain(pairs, n_sim=10, seed=0):
    rng = np.random.default_rng(seed)
    out, real = {}, {}
    for style in ("lfw", "frontal"):
        sel = [p for p in pairs if p.style == style]
        if not sel:
            continue
        xy = [(p.load(), p.load("rainy")) for p in sel]
        gains = np.arange(0.6, 1.001, 0.01)
        g = []
        for a, b in xy:
            ga, gb = grey(a).ravel(), grey(b).ravel()
            g.append(gains[int(np.argmin([abs(np.corrcoef(ga, gb - s * ga)[0, 1]) for s in gains]))])
        gain = float(np.median(g))
        st = [rain_stats(a, b, gain) for a, b in xy]
        ac = np.mean([s["ac"] for s in st], 0)
        angles = np.arange(-45, 45.5, 0.5)
        ang = float(angles[int(np.argmax([np.mean([ac_ray(ac, t, r) for r in (4, 6, 8)]) for t in angles]))])
        along = {r: round(ac_ray(ac, ang, r), 3) for r in (1, 2, 4, 6, 8, 10, 12, 16)}
        across = {r: round(ac_ray(ac, ang + 90, r), 3) for r in (1, 2, 3)}
        es = [highpass(grey(b) - gain * grey(a)).ravel() for a, b in xy[:8]]
        cross = np.corrcoef(es)[np.triu_indices(len(es), 1)] if len(es) > 1 else np.array([np.nan])
        real[style] = (xy[:n_sim], st, ac, ang)
        out[style] = {"n": len(sel), "gain_q": q(g), "gain": round(gain, 3),
                      "layer_mean_q": q([s["mean"] for s in st]),
                      "layer_std_q": q([s["std"] for s in st]),
                      "cover_over_30_q": q([s["cover30"] for s in st]),
                      "layer_q50_90_99": [round(float(v), 1) for v in np.median([s["q"] for s in st], 0)],
                      "angle_deg_from_vertical": ang, "autocorr_along": along, "autocorr_across": across,
                      "cross_photo_corr_median": round(float(np.median(cross)), 3),
                      "random": bool(np.median(cross) < 0.2)}

    def score(style, gain, density, length, angle, value, native_side):
        xy, st, ac, ang = real[style]
        sims = []
        for a, _ in xy:
            u8 = a.astype(np.uint8)
            native = A.native_size(u8, native_side, min(u8.shape[:2]))
            o = A.rain(u8, rng, gain, density, length, angle, value, native)
            sims.append(rain_stats(a, o.astype(np.float32), gain))
        sac = np.mean([s["ac"] for s in sims], 0)
        keys = []
        for sset in (st, sims):
            m = np.median([[s["mean"], s["cover30"] * 100, *s["q"][1:], s["std"]] for s in sset], 0)
            keys.append(m)
        rk, sk = keys
        err = float(np.mean(np.abs(sk - rk) / np.maximum(np.abs(rk), 3)))
        if style == "lfw":
            ra = [ac_ray(ac, ang, r) for r in (2, 4, 6, 8, 10)]
            sa = [ac_ray(sac, ang, r) for r in (2, 4, 6, 8, 10)]
            err += float(np.mean(np.abs(np.subtract(ra, sa))))
        return err, [round(float(v), 2) for v in sk], [round(ac_ray(sac, ang, r), 3) for r in (2, 4, 6, 8, 10)]

    if "lfw" in real:
        gain, ang = out["lfw"]["gain"], out["lfw"]["angle_deg_from_vertical"]
        best = None
        for native in (224, 250):
            for lo, hi in ((4, 8), (6, 10), (6, 12), (8, 12), (8, 14), (10, 16)):
                for value in (60, 75, 90, 105, 120):
                    for density in (0.01, 0.015, 0.02, 0.025, 0.03, 0.04):
                        e, sk, sac = score("lfw", gain, density, (lo, hi), ang, value, native)
                        if best is None or e < best[0]:
                            best = (e, native, (lo, hi), value, density, sk, sac)
        e, native, length, value, density, sk, sac = best
        # refine density and value around the best
        for value2 in (value - 10, value - 5, value + 5, value + 10):
            for density2 in (density * 0.85, density * 0.92, density, density * 1.08, density * 1.15):
                e2, sk2, sac2 = score("lfw", gain, density2, length, ang, value2, native)
                if e2 < e:
                    e, value, density, sk, sac = e2, value2, density2, sk2, sac2
        out["model"] = {"gain": gain, "angle": ang, "native_side_lfw": native, "length": list(length),
                        "value": value, "density": round(density, 4), "fit_error": round(e, 4),
                        "sim_mean_cover_q90_q99_std": sk, "sim_autocorr_along_2_4_6_8_10": sac}
        if "frontal" in real:
            gf = out["frontal"]["gain"]
            res = []
            for k in (4, 6, 8, 10, 12, 14, 16):
                ef, skf, _ = score("frontal", gf, density, length, ang, value, 224 * k)
                res.append((ef, k, skf))
            ef, k, skf = min(res)
            out["model"].update(native_side_frontal=224 * k, gain_frontal=gf, fit_error_frontal=round(ef, 4),
                                sim_frontal=skf, frontal_scan={str(224 * kk): round(e_, 4) for e_, kk, _ in res})
    return out
