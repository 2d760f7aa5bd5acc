"""The calibration that ships with a model: its impostor cohort and its thresholds, chosen on
training identities only (never val), written beside the weights.

    python -m training.ship_calibration --model default --train ../shared/data/facecom/train \\
        [--gender ../shared/data/facecom_gender/train]

Embeds the training folder with the encoder (aligned crops from the training crop cache,
``training/data.py``; embeddings cached beside them by the crops' bytes and the encoder's
checksum, so a rerun embeds nothing), splits its identities in three (``--seed``): on the
*cohort* third it fits the cohort (k-means centroids, each pooling at least 10 people:
``gallery/cohort.py``); on the *fit* third it chooses, in cohort units, the verification
threshold (``--target-far`` per comparison) and the identification rules (``--target-fpir``,
one per gallery size of :data:`GALLERY_SIZES`, as ``calibrate`` does; by default the target
itself is chosen there too, for a 1% stranger goal: ``training/open_set.py``); on the *check* third
it measures them. The cohort and the rules see different people: a face whose own photos
are in the cohort meets itself there, which lowers its normalised impostor scores and
would set the rules too lenient for new people (seen on synthetic data: 2x the target). The entry is written into
``--out`` (default ``facesearch/weights/calibration.json``) under the encoder's checksum,
beside the entries of other encoders.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from facesearch.config import SHIPPED_CALIBRATION
from facesearch.evaluation import metrics
from facesearch.evaluation.labelled import Labelled, query_gallery
from facesearch.evaluation.thresholds import (genuine_accept_rate, identification_threshold, identity_scores, needed,
                                              stranger_rate, verification_threshold)
from facesearch.files import atomic_write
from facesearch.gallery.cohort import fit_cohort

from .data import DEFAULT_CACHE, holdout_names, load_crops
from .open_set import CANDIDATE_TARGETS, choose_target

GALLERY_SIZES = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)  # larger: the data cannot support FPIR 1%
# With --gender, no same-sex group's impostors may pass more than this many times the target
# on the fit identities, so that each stays within twice the target on people never seen
# (the goal; measured on the check third).
GROUP_FACTOR = 1.5
SEXES = ("female", "male")


def embed_crops(model: str, train: Path, cache_dir: Path):
    """(Labelled of every photo under ``train``, the encoder's card)."""
    from facesearch.encoders import create_encoder

    encoder = create_encoder(model)
    card = encoder.card
    cs = load_crops(train, size=card.preprocess.size, cache_dir=cache_dir)
    key = hashlib.sha256(cs.crops.tobytes())
    key.update(f"{card.checksum} {card.flip}".encode())
    path = cache_dir / f"embeddings-{key.hexdigest()[:16]}.npy"
    if path.is_file():
        emb = np.load(path)
    else:
        emb = encoder.embed(cs.crops)
        with atomic_write(path) as f:
            np.save(f, emb)
    return Labelled(cs.paths, cs.labels, cs.names, cs.kinds, cs.source, emb.astype(np.float32)), card


def split_identities(names: list[str], seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """(cohort, fit, check) thirds of ``names``, drawn with ``seed``."""
    check = set(holdout_names(names, 1 / 3, seed))
    rest = [n for n in names if n not in check]
    cohort = set(holdout_names(rest, 0.5, seed + 1))
    return sorted(cohort), [n for n in rest if n not in cohort], sorted(check)


def subset(data: Labelled, names) -> Labelled:
    """The photos of identities ``names``, relabelled 0.. in name order."""
    keep = sorted(names)
    lookup = {n: i for i, n in enumerate(keep)}
    new = np.array([lookup.get(n, -1) for n in data.names])[data.labels]
    idx = np.flatnonzero(new >= 0)
    pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
    return Labelled(pick(data.paths), new[idx], keep, pick(data.kinds), pick(data.source), data.emb[idx],
                    None if data.usable is None else data.usable[idx], data.cohort)


def identity_genders(root: Path | None, names: list[str]) -> dict[str, str]:
    """identity -> "male"/"female" from a FACECOM gender folder (``<sex>/<identity>_NNNN.jpg``
    or ``<sex>/<identity>.jpg``); identities it does not hold are left out."""
    if root is None:
        return {}
    known = set(names)
    out = {}
    for sex in ("male", "female"):
        for p in (root / sex).glob("*.jpg"):
            name = p.stem if p.stem in known else p.stem.rsplit("_", 1)[0]
            if name in known:
                out[name] = sex
    return out


def far_by_group(data: Labelled, threshold: float, genders: dict[str, str]) -> dict:
    """Impostor comparisons accepted at ``threshold`` (pair scores, in the data's units):
    all, woman-woman, man-man, mixed; and genuine ones accepted (TAR)."""
    s, ql, gl = query_gallery(data, both_sides=True)
    sex = np.array([genders.get(n, "?") for n in data.names])
    sq, sg = sex[ql][:, None], sex[gl][None, :]
    impostor = (ql[:, None] != gl[None, :]) & np.isfinite(s)
    groups = {"all": impostor, "woman-woman": impostor & (sq == "female") & (sg == "female"),
              "man-man": impostor & (sq == "male") & (sg == "male"), "mixed": impostor & (sq != sg)}
    out = {k: {"far": float(np.mean(s[m] >= threshold)) if m.any() else None, "pairs": int(m.sum())}
           for k, m in groups.items()}
    genuine = s[(ql[:, None] == gl[None, :]) & np.isfinite(s)]
    out["tar"] = float(np.mean(genuine >= threshold))
    return out


def group_thresholds(fit: Labelled, genders: dict[str, str], target_far: float,
                     target_fpir: float) -> tuple[float, float]:
    """(verification threshold, identification floor) that hold each same-sex group's
    impostors (woman-woman, man-man) to :data:`GROUP_FACTOR` x the target on ``fit`` (in its
    cohort's units; -inf: no labels)."""
    tv = tf = -np.inf
    if not genders:
        return tv, tf
    sex = np.array([genders.get(n, "?") for n in fit.names])
    s, ql, gl = query_gallery(fit, both_sides=True)
    impostor = (ql[:, None] != gl[None, :]) & np.isfinite(s)
    scores, qlab = identity_scores(fit)  # each query's best score per identity, its own -inf
    for g in SEXES:
        pairs = impostor & (sex[ql][:, None] == g) & (sex[gl][None, :] == g)
        if pairs.any():
            tv = max(tv, metrics.threshold_at_far(s[pairs], GROUP_FACTOR * target_far))
        same = (sex[qlab][:, None] == g) & (sex[None, :] == g) & np.isfinite(scores)
        if same.any():
            tf = max(tf, metrics.threshold_at_far(scores[same], GROUP_FACTOR * target_fpir))
    return tv, tf


def identification_rules(fit: Labelled, genders: dict[str, str], target_fpir: float, force: bool = False) -> list[dict]:
    """The rule for each of :data:`GALLERY_SIZES` chosen on ``fit`` (in its cohort's units),
    its floor held per sex (:func:`group_thresholds`); ``force``: no check that the data
    support the target (half the fit third, while choosing it)."""
    _, group_floor = group_thresholds(fit, genders, 0.01, target_fpir)
    rules = []
    for size in GALLERY_SIZES:
        rule, ident = identification_threshold(fit, target_fpir, size, min_floor=group_floor, force=force)
        rules.append({"gallery_size": size, "floor": rule.score, "margin": rule.margin, "fpir_fit": ident["fpir"],
                      "tpir_fit": ident["tpir"], "method": ident["method"], "rule": rule})
    return rules


def rules_for(rules: list[dict]):
    """gallery size -> (the shipped size it uses, its rule), as ``ShippedCalibration.rule``."""
    return lambda n: next(((r["gallery_size"], r["rule"]) for r in rules if r["gallery_size"] >= n),
                          (rules[-1]["gallery_size"], rules[-1]["rule"]))


def ship(model: str, train: Path, out: Path, cache_dir: Path, gender: Path | None = None, target_far: float = 0.01,
         target_fpir: float | None = None, clusters: int = 64, top_n: int = 1, seed: int = 0, shift: bool = True) -> dict:
    """Write the calibration of ``model`` into ``out``; ``target_fpir`` None: chosen on the
    fit third (:func:`training.open_set.choose_target`)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    data, card = embed_crops(model, train, cache_dir)
    cohort_names, fit_names, check_names = split_identities(data.names, seed)
    pool, fit, check = subset(data, cohort_names), subset(data, fit_names), subset(data, check_names)
    cohort = fit_cohort(pool.emb, pool.labels, clusters, top_n, seed, shift=shift)
    fit.cohort = check.cohort = cohort
    genders = identity_genders(gender, data.names)
    choice = None
    if target_fpir is None:
        def choose(names, target):
            part = subset(fit, names)
            return rules_for(identification_rules(part, genders, target, force=True))

        queries = sum(k != "clean" for k in fit.kinds)  # the shipped rules must be supported by the fit third
        choice = choose_target(fit, cohort, choose, [t for t in CANDIDATE_TARGETS if needed(t) <= queries], seed=seed)
        target_fpir = choice["chosen"]
    tv, _ = verification_threshold(fit, "far", target_far)
    group_tv, group_floor = group_thresholds(fit, genders, target_far, target_fpir)
    tv_all, tv = tv, max(tv, group_tv)
    rules = identification_rules(fit, genders, target_fpir)
    measured = [{"gallery_size": r["gallery_size"], "fpir": stranger_rate(check, r["rule"], r["gallery_size"]),
                 "tpir": genuine_accept_rate(check, r["rule"], r["gallery_size"])}
                for r in rules if r["gallery_size"] <= len(check.names) - 1]
    for r in rules:
        del r["rule"]
    entry = {
        "model": card.model, "arch": card.arch, "embedding_dim": card.embedding_dim, "flip": card.flip,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": f"{train.name} ({len(data.names)} identities, seed {seed}): cohort from {len(pool.names)}, "
                f"rules chosen on {len(fit.names)}, measured on {len(check.names)} others (check third); never val",
        "cohort": {**cohort.as_dict(), "fitted_on": f"{len(pool.paths)} photos of {len(pool.names)} identities",
                   "clusters_asked": clusters},
        "verification": {"threshold": tv, "target_far": target_far, "units": "cohort-normalised, both faces (S-norm form)",
                         "threshold_all_pairs": tv_all, "threshold_groups": group_tv if genders else None,
                         "group_factor": GROUP_FACTOR if genders else None,
                         "fit": far_by_group(fit, tv, genders),
                         "check": far_by_group(check, tv, genders)},
        "identification": {"target_fpir": target_fpir, "target_choice": choice,
                           "units": "cohort-normalised, query side (Z-norm form)",
                           "floor_groups": group_floor if genders else None,
                           "rules": rules, "check": measured},
    }
    book = json.loads(out.read_text()) if out.is_file() else {}
    book[card.checksum] = entry
    entry = {**entry, "checksum": card.checksum}
    with atomic_write(out) as f:
        f.write((json.dumps(book, indent=1) + "\n").encode())
    return entry


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="encoder spec, as --model (default: the shipped model)")
    ap.add_argument("--train", type=Path, required=True, help="FACECOM train (or any labelled folder)")
    ap.add_argument("--gender", type=Path, default=None, help="FACECOM gender folder of the same split: "
                    "also report false accepts woman-woman / man-man on the check third")
    ap.add_argument("--out", type=Path, default=SHIPPED_CALIBRATION)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="aligned crops and embeddings")
    ap.add_argument("--target-far", type=float, default=0.01)
    ap.add_argument("--target-fpir", type=float, default=None, help="identification target per gallery size "
                    "(default: chosen on the fit third for a 1%% stranger goal, training/open_set.py)")
    ap.add_argument("--clusters", type=int, default=64, help="k-means clusters to start from")
    ap.add_argument("--top-n", type=int, default=1, help="cohort scores per face its statistics use")
    ap.add_argument("--norm", choices=("shift", "z"), default="shift", help="shift: only the cohort mean moves "
                    "per face (one spread for all); z: each face's own spread too")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    entry = ship(a.model, a.train, a.out, a.cache_dir, a.gender, a.target_far, a.target_fpir, a.clusters, a.top_n, a.seed,
                 a.norm == "shift")
    print(report(entry, a.model, a.out))


def report(entry: dict, model: str, out: Path) -> str:
    """Markdown: how the identification target was chosen, what ships, the figures of the
    check third (``benchmarks/results.py record`` keeps it as data)."""
    ident, verify = entry["identification"], entry["verification"]
    lines = [f"# Shipped calibration of `--model {model}` (checksum {entry.get('checksum', '')[:12]})", "",
             f"{entry['data']}. Cohort: {len(entry['cohort']['centroids'])} centroids, each pooling >= "
             f"{min(entry['cohort']['identities'])} identities. Written to {os.path.relpath(out)}.", ""]
    choice = ident.get("target_choice")
    if choice:
        lines += [f"Identification target chosen on the fit third: {choice['method']}.", "",
                  "| target FPIR | strangers accepted (+ 1 s.e.) | named rightly | named wrongly | chosen |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['target_fpir']:.2%} | {r['strangers']:.2%} (+{r['strangers_se']:.2%}; {r['strangers_accepted']}/"
                  f"{r['stranger_queries']}) | {r['right']:.2%} | {r['wrong']:.2%} | "
                  f"{'**yes**' if r['target_fpir'] == choice['chosen'] else ''} |" for r in choice["candidates"]]
        lines.append("")
    lines += [f"Verification threshold {verify['threshold']:.4f} (cohort units, target FAR {verify['target_far']:g}); "
              f"identification target FPIR {ident['target_fpir']:g}. Check third (people neither choice used):", "",
              "| gallery size | floor | margin | FPIR (check third) | TPIR (check third) |", "|---|---|---|---|---|"]
    floors = {r["gallery_size"]: r for r in ident["rules"]}
    for m in ident["check"]:
        r = floors[m["gallery_size"]]
        margin = "-" if r["margin"] is None else f"{r['margin']:.4f}"
        lines.append(f"| {m['gallery_size']} | {r['floor']:.4f} | {margin} | {m['fpir']:.2%} | {m['tpir']:.2%} |")
    check = verify["check"]
    lines += ["", "| check third, compare | FAR all | woman-woman | man-man | mixed | TAR |", "|---|---|---|---|---|---|",
              "| shipped verification threshold | " + " | ".join(
                  "-" if check[g]["far"] is None else f"{check[g]['far']:.2%}"
                  for g in ("all", "woman-woman", "man-man", "mixed")) + f" | {check['tar']:.2%} |"]
    return "\n".join(lines)

if __name__ == "__main__":
    main()
