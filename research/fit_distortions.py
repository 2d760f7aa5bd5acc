"""Fit the seven FACECOM distortions to real (clean, distorted) train pairs.

    python -m research.fit_distortions ../shared/data/facecom/train --pairs 200 [--json fit.json]

For each kind it prints the measured statistics and the fitted parameters of the model that
``training/augment.py`` implements, separately for the two styles FACECOM used (LFW photos,
named like ``Aaron_Peirsol``, and ``NNN_frontal`` studio photos), and whether the kind is
deterministic per photo or random. ``--pairs N`` takes N clean photos of each style (all of
them when there are fewer: train has 82 frontal ones), each with its seven distorted copies.

What is measured, per kind:

- sunny: the difference distorted - clean per channel, on pixels the glare did not clip
  (distorted < 250), as a function of the distance to the photo centre (medians in rings),
  the centre that makes the rings most uniform, the channel spread, the slope of the
  difference against the clean value (0 for an additive glare), the spread between photos.
- foggy: the per-channel affine fit distorted = a * clean + b, then the model distorted =
  clean * (1 - t) + A * t with a transmission map t per pixel and a grey level A, fitted by
  least squares over all pairs of a style at once; whether one map serves every photo
  (correlation of each photo's map with the pooled one) and both styles.
- lowlight: per channel, gain/gamma (log-log fit) and gain/offset (linear fit).
- noisy: residual quantiles on mid-grey pixels, grey vs per-channel (chroma) residual, the
  lag-1 autocorrelation, correlation between photos (a fixed pattern or random), then a
  simulation search over the model (Gaussian + grey salt and pepper on a native grid,
  resampled, JPEG q75) for the parameters whose statistics match.
- rainy: the gain that leaves the drop layer uncorrelated with the clean photo, the layer's
  mean, coverage and quantiles, the drop angle and length from its autocorrelation, then a
  simulation search over drop density, length and value.
- blurred: the Gaussian sigma that best maps clean to distorted (RMSE), per photo.
- resized: the down-scale size and the down/up filters that best map clean to distorted.
- crop frames: where the whole photo lies in the aligned 112-px crops (MTCNN, as
  ``training.data`` makes them), the median per style.

The statistics live in :mod:`research.distortion_stats` (shared with the fidelity tests),
the simulation fits of noise and rain in :mod:`research.fit_simulated`. ``--markdown FILE``
writes the table (transcribed into ``docs/results/distortions.json`` for the docs).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from training import augment as A
from .distortion_stats import (SUN_STEP, KINDS, censored_profile, count_photos, find_pairs, fog_fit, fog_t_single,
                               glare_profile, grey, jsonable, map_to_hex, markdown, masked_corr, q, radius,
                               resize_model, sharpness)
from .fit_simulated import fit_noise, fit_rain


def fit_blur(pairs):
    out = {}
    for style in ("lfw", "frontal"):
        sig, gain = [], []
        for p in (p for p in pairs if p.style == style):
            a, b = p.load(), p.load("blurred")
            side = min(a.shape[:2])

            def err(s):
                f = ndimage.gaussian_filter(a, (s, s, 0), mode="reflect") if s > 0 else a
                return float(np.sqrt(((f - b)[8:-8, 8:-8] ** 2).mean()))
            grid = np.arange(0, 6.01, 0.25)
            s0 = grid[int(np.argmin([err(s) for s in grid]))]
            fine = np.arange(max(0, s0 - 0.25), s0 + 0.2501, 0.05)
            s = fine[int(np.argmin([err(s) for s in fine]))]
            sig.append(s / side * 224)
            gain.append((err(0) - err(s)) / max(err(0), 1e-6))
            p._sharp_blur = sharpness(b) / sharpness(a)
        if sig:
            out[style] = {"n": len(sig), "sigma_px224_q25_50_75": q(sig),
                          "sigma_rel": round(float(np.median(sig)) / 224, 6),
                          "rmse_reduction_median": round(float(np.median(gain)), 3),
                          "sharpness_ratio_q": q([p._sharp_blur for p in pairs if p.style == style]),
                          "deterministic": bool(np.subtract(*np.percentile(sig, [75, 25])) < 0.3)}
    return out


def fit_resize(pairs, max_pairs=40):
    """Grid over the native grid (224: the photo itself; 250: LFW's original size), the
    down-scaled size and the down/up filters; the best by total RMSE."""
    out = {}
    downs, ups = ("nearest", "bilinear", "bicubic", "box"), ("nearest", "bilinear", "bicubic", "lanczos")
    for style in ("lfw", "frontal"):
        sel = [p for p in pairs if p.style == style][:max_pairs]
        if not sel:
            continue
        tot, per, ident = {}, [], []
        for p in sel:
            a, b = p.load(), p.load("resized")
            im = Image.fromarray(a.astype(np.uint8))
            ident.append(float(np.sqrt(((a - b) ** 2).mean())))
            errs = {}
            for native in (224, 250):
                for n in range(48, 225, 8):
                    for dn in downs:
                        for up in ups:
                            if n == 224 and (dn, up) != downs[:1] + ups[:1]:
                                continue
                            e = float(np.sqrt(((resize_model(im, native, n, dn, up) - b) ** 2).mean()))
                            errs[(native, n, dn, up)] = e
                            tot[(native, n, dn, up)] = tot.get((native, n, dn, up), 0.0) + e
            per.append(errs)
        key, e = min(tot.items(), key=lambda kv: kv[1])
        native, n, dn, up = key
        same = [min((k for k in d if k[0] == native and k[2:] == (dn, up)), key=d.get)[1] for d in per]
        runner = sorted(tot.items(), key=lambda kv: kv[1])[1:4]
        out[style] = {"n": len(sel), "native_side": native, "best_side_px224": n, "factor": round(n / 224, 4),
                      "down": dn, "up": up, "rmse": round(e / len(sel), 3),
                      "rmse_identity": round(float(np.mean(ident)), 3),
                      "runners_up": [[list(k), round(v / len(sel), 3)] for k, v in runner],
                      "per_photo_best_side_q": q(same),
                      "sharpness_ratio_q": q([sharpness(p.load("resized")) / sharpness(p.load()) for p in sel]),
                      "deterministic": bool(np.subtract(*np.percentile(same, [75, 25])) <= 8)}
    return out


def fit_lowlight(pairs):
    out = {}
    for style in ("lfw", "frontal"):
        gam, gain, lin, off, ratio = [], [], [], [], []
        for p in (p for p in pairs if p.style == style):
            a, b = p.load(), p.load("lowlight")
            for c in range(3):
                m = (a[..., c] > 20) & (a[..., c] < 250) & (b[..., c] > 3)
                g1, g0 = np.polyfit(np.log(a[..., c][m] / 255), np.log(b[..., c][m] / 255), 1)
                gam.append(g1)
                gain.append(np.exp(g0))
                l1, l0 = np.polyfit(a[..., c].ravel(), b[..., c].ravel(), 1)
                lin.append(l1)
                off.append(l0)
            ratio.append(b.mean() / a.mean())
        if gam:
            out[style] = {"n": len(ratio), "gamma_q": q(gam), "gain_at_gamma_q": q(gain),
                          "linear_gain_q": q(lin), "linear_offset_q": q(off), "mean_ratio_q": q(ratio),
                          "deterministic": bool(np.subtract(*np.percentile(lin, [75, 25])) < 0.02)}
    return out


def fit_fog(pairs, grid=32):
    out, maps = {}, {}
    for style in ("lfw", "frontal"):
        sel = [p for p in pairs if p.style == style]
        if not sel:
            continue
        xy = [(p.load(), p.load("foggy")) for p in sel]
        t, level = fog_fit(xy)
        maps[style] = t
        aff = []
        for a, b in xy:
            aff.append([np.polyfit(a[..., c].ravel(), b[..., c].ravel(), 1) for c in range(3)])
        aff = np.array(aff)  # N 3 2
        corr = [masked_corr(fog_t_single(a, b, level), ndimage.gaussian_filter(t, 3)) for a, b in xy]
        pred_err = [float(np.sqrt(((a * (1 - t[..., None]) + level * t[..., None] - b) ** 2).mean())) for a, b in xy]
        out[style] = {"n": len(sel), "level_A": round(level, 1),
                      "t_mean": round(float(t.mean()), 3), "t_std": round(float(t.std()), 3),
                      "t_p1_p99": [round(float(v), 3) for v in np.percentile(t, [1, 99])],
                      "affine_slope_per_channel_median": [round(float(v), 3) for v in np.median(aff[:, :, 0], 0)],
                      "affine_offset_per_channel_median": [round(float(v), 1) for v in np.median(aff[:, :, 1], 0)],
                      "photo_map_corr_with_pooled_q": q([c for c in corr if np.isfinite(c)]),
                      "model_rmse_q": q(pred_err)}
    if len(maps) == 2:
        out["map_corr_lfw_frontal"] = round(float(np.corrcoef(maps["lfw"].ravel(), maps["frontal"].ravel())[0, 1]), 4)
    # one map and one level for both styles (the per-style maps agree: map_corr_lfw_frontal)
    level = round(float(np.average([out[s]["level_A"] for s in maps], weights=[out[s]["n"] for s in maps])))
    t, level = fog_fit(((p.load(), p.load("foggy")) for p in pairs), level=level)
    hx = map_to_hex(t, grid)
    v, u = np.meshgrid((np.arange(t.shape[0]) + 0.5) / t.shape[0], (np.arange(t.shape[1]) + 0.5) / t.shape[1],
                       indexing="ij")
    rmse = float(np.sqrt(((A.sample_map(A.fog_map(hx), v, u) - t) ** 2).mean()))
    out["pooled"] = {"level_A": level, "grid": grid, "grid_rmse": round(rmse, 4), "map_hex": hx}
    return out


def fit_sunny(pairs):
    out = {}
    for style in ("lfw", "frontal"):
        sel = [p for p in pairs if p.style == style]
        if not sel:
            continue
        xy = [(p.load(), p.load("sunny")) for p in sel]
        h, w = xy[0][0].shape[:2]
        sub = xy[:30]
        dist = np.stack([grey(b) - grey(a) for a, b in sub])
        ok = np.stack([(b < 245).all(axis=2) & (a > 5).all(axis=2) for a, b in sub])

        def spread(cy, cx, aspect, sectors=8):
            """How much the glare differs between directions at equal distance: the spread
            of sector medians in rings (unclipped pixels)."""
            r = radius((h, w), cy, cx, aspect)
            yy, xx = np.mgrid[0:h, 0:w]
            ang = np.floor((np.arctan2(yy + 0.5 - cy, xx + 0.5 - cx) + np.pi) / (2 * np.pi) * sectors)
            tot = 0.0
            for r0 in np.arange(0.1, 0.5, 0.04):
                meds = []
                for k in range(sectors):
                    m = (np.abs(r - r0) < 0.01) & (ang == k)
                    v = dist[:, m][ok[:, m]]
                    if len(v) > 30:
                        meds.append(np.median(v))
                if len(meds) == sectors and np.median(meds) > 5:
                    tot += float(np.std(meds))
            return tot
        # aspect (an elliptical glare: the photo was not square before FACECOM resized it),
        # then the centre at that aspect
        aspects = np.round(np.arange(1.0, 1.71, 0.05), 2)
        sp = [spread(h / 2, w / 2, k) for k in aspects]
        aspect = float(aspects[int(np.argmin(sp))])
        best = min(((spread(h / 2 + dy, w / 2 + dx, aspect), dy, dx) for dy in np.arange(-3, 3.01, 1)
                    for dx in np.arange(-3, 3.01, 1)))
        _, dy, dx = best
        _, dy, dx = min(((spread(h / 2 + dy + fy, w / 2 + dx + fx, aspect), dy + fy, dx + fx)
                         for fy in (-0.5, 0, 0.5) for fx in (-0.5, 0, 0.5)))
        rmax = float(radius((h, w), aspect=aspect).max())
        knots = np.round(np.arange(0, rmax + SUN_STEP, SUN_STEP), 4)
        prof = censored_profile(xy, knots, aspect)
        medians = [glare_profile(xy, np.array([max(0.0, k - 0.01), k + 0.01]), aspect=aspect)[0] for k in knots]
        # channels and additivity, far from clipping, in rings with a clear glare
        ch, slopes, per_photo = [], [], []
        for a, b in xy:
            r = radius(a.shape, aspect=aspect)
            d = b - a
            for i, k in enumerate(knots):
                if prof[i] < 20 or prof[i] > 200:
                    continue
                m = (np.abs(r - k) < 0.01) & (a + prof[i] < 225).all(axis=2)
                if m.sum() > 30:
                    ch.append(np.median(d[m], axis=0) - np.median(d[m]))
                    if a[m].std() > 10:
                        slopes.append(np.polyfit(a[m].ravel(), d[m].ravel(), 1)[0])
            per_photo.append(glare_profile([(a, b)], np.array([0.2, 0.22]), aspect=aspect)[0])
        sat_real = float(np.mean([(b >= 250).all(axis=2).mean() for _, b in xy]))
        sat_model = float(np.mean([(a + np.interp(radius(a.shape, aspect=aspect), knots, prof)[..., None] >= 250)
                                   .all(axis=2).mean() for a, _ in xy]))
        out[style] = {"n": len(sel), "aspect_vertical": aspect,
                      "aspect_scan": {str(k): round(v, 1) for k, v in zip(aspects, sp)},
                      "centre_offset_px_y_x": [float(dy), float(dx)],
                      "profile_r": [float(v) for v in knots],
                      "profile_add": [round(float(v), 1) for v in prof],
                      "ring_median_unclipped": [None if not np.isfinite(v) else round(float(v), 1) for v in medians],
                      "channel_offset_median": [round(float(v), 2) for v in np.median(ch, 0)] if ch else None,
                      "slope_vs_clean_median": round(float(np.median(slopes)), 4) if slopes else None,
                      "per_photo_add_at_r0.21_q": q([v for v in per_photo if np.isfinite(v)]),
                      "saturated_fraction_real": round(sat_real, 3), "saturated_fraction_model": round(sat_model, 3)}
    return out


def fit_frames(pairs, n=60):
    """Median frame of the whole photo in aligned 112-px crops: the photo's side in crop
    sides and its centre in crop sides, from MTCNN landmarks."""
    from facesearch.faces.detect import (ARCFACE_112, CENTER_CROP_FRACTION, CENTER_CROP_Y, Aligner,
                                         similarity_transform)
    aligner = Aligner(112, "mtcnn")
    out = {}
    for style in ("lfw", "frontal"):
        sel = [p for p in pairs if p.style == style][:n]
        if not sel:
            continue
        images = [Image.open(p.clean).convert("RGB") for p in sel]
        sides, cys, cxs, det = [], [], [], 0
        for im, face in zip(images, aligner.align(images)):
            w, h = im.size
            if face.detected and face.landmarks is not None:
                det += 1
                m = similarity_transform(face.landmarks, ARCFACE_112)
                scale = float(np.hypot(m[0, 0], m[1, 0]))
                cx, cy = m @ np.array([w / 2, h / 2, 1.0])
            else:
                side_px = min(w, h) * CENTER_CROP_FRACTION
                scale = 112 / side_px
                top = max(0.0, min(h - side_px, h * CENTER_CROP_Y - side_px / 2))
                cx, cy = 56.0, (h / 2 - top) * scale
            sides.append(scale * min(w, h) / 112)
            cys.append(cy / 112)
            cxs.append(cx / 112)
        out[style] = {"n": len(sel), "detected": det, "side_q": q(sides), "cy_q": q(cys), "cx_q": q(cxs),
                      "frame": [round(float(np.median(v)), 3) for v in (sides, cys, cxs)]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", help="FACECOM split with <person>/<photo>.jpg and <person>/distortion/")
    ap.add_argument("--pairs", type=int, default=200, help="clean photos per style (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(KINDS) + ",frames", help="comma-separated subset (and 'frames')")
    ap.add_argument("--json", help="also write every number to this file")
    ap.add_argument("--markdown", help="also write the table of fitted models to this file")
    args = ap.parse_args(argv)
    t0 = time.time()
    pairs = find_pairs(args.root, args.pairs, args.seed)
    counts = count_photos(args.root)
    result = {"root": str(args.root), "pairs": {s: sum(p.style == s for p in pairs) for s in ("lfw", "frontal")},
              "photos": counts, "frontal_share": round(counts["frontal"] / max(1, sum(counts.values())), 4)}
    print(json.dumps(result))
    fits = {"blurred": fit_blur, "foggy": fit_fog, "lowlight": fit_lowlight, "noisy": fit_noise, "rainy": fit_rain,
            "resized": fit_resize, "sunny": fit_sunny, "frames": fit_frames}
    for kind in args.kinds.split(","):
        t = time.time()
        result[kind] = jsonable(fits[kind](pairs))
        print(f"== {kind} ({time.time() - t:.0f} s)")
        for k, v in result[kind].items():
            print(f"  {k}: {json.dumps(v)}")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.markdown:
        cmd = "python -m research.fit_distortions " + " ".join(argv if argv is not None else sys.argv[1:])
        Path(args.markdown).write_text(markdown(result, cmd))
    print(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
