"""Does the shipped decision transfer across people? False accepts by sex, and small galleries.

    python benchmarks/decision_groups.py --train ../shared/data/facecom/train \\
        --val ../shared/data/facecom/val --gender ../shared/data/facecom_gender \\
        [--model default] [--db ~/.cache/facesearch/ship_calibration.db] [--out docs/results]

"before": today's global rules in cosine scores (verification FAR 1%, identification FPIR 1%
for each gallery size), chosen by `calibrate`'s code on the same training identities as the
shipped calibration (the fit third of ``training/ship_calibration.py``); "after": the shipped
calibration (``facesearch/weights/calibration.json``), cohort-normalised. Measured on the
check third of train (identities neither choice used) and on val:

1. ``compare``: impostor comparisons (distorted vs clean photos) accepted, woman-woman,
   man-man and mixed, at the verification threshold.
2. Galleries of 1, 2 and 10 people drawn at random (``--draws`` each): their clean photos
   enrolled, the distorted photos of the enrolled people and of everyone else queried:
   strangers accepted (all, and of the enrolled people's own sex: every enrolled person of
   one sex), enrolled people named rightly / wrongly. A face the quality gate calls
   unusable is never accepted (val; train's crops carry no quality).
Prints Markdown tables (record them: ``python benchmarks/results.py record decision_groups --
python benchmarks/decision_groups.py ...``); ``--json-out`` also writes every count.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facesearch.evaluation.labelled import embed_folder
from facesearch.evaluation.protocols import best_per_identity
from facesearch.evaluation.thresholds import identification_threshold, verification_threshold
from facesearch.gallery import Gallery
from facesearch.gallery.decision import shipped_calibration
from training.data import DEFAULT_CACHE
from training.ship_calibration import embed_crops, far_by_group, identity_genders, split_identities, subset

SIZES = (1, 2, 10)


def galleries(data, sexes: np.ndarray, rules: dict, cohort, draws: int, seed: int = 0) -> dict:
    """Rates of drawn galleries of each size in ``rules`` ({size: AcceptRule, in ``cohort``
    units when it is set})."""
    clean = np.array(data.kinds) == "clean"
    q = ~clean
    per = best_per_identity(data.emb[q] @ data.emb[clean].T, data.labels[clean], len(data.names)).astype(np.float64)
    if cohort is not None:
        per = cohort.znorm(per, data.emb[q])
    ql = data.labels[q]
    usable = data.usable[q] if data.usable is not None else np.ones(len(ql), bool)
    rng = np.random.default_rng(seed)
    out = {}
    for size, rule in rules.items():
        counts = {k: [0, 0] for k in ("strangers", "strangers_same_sex", "women_strangers_of_women",
                                      "men_strangers_of_men", "right", "wrong")}
        for _ in range(draws):
            sex = rng.choice(["female", "male"])
            if size == 1 or rng.random() < 0.5:  # half the galleries of one sex, all of the one-person ones
                pool = np.flatnonzero(sexes == sex)
            else:
                pool = np.arange(len(data.names))
            g = rng.choice(pool, size, replace=False)
            sub = per[:, g]
            order = np.argsort(-sub, axis=1)
            best = np.take_along_axis(sub, order[:, :1], axis=1)[:, 0]
            second = np.take_along_axis(sub, order[:, 1:2], axis=1)[:, 0] if size > 1 else np.full(len(ql), -np.inf)
            ok = usable & (best >= rule.score)
            if rule.margin is not None:
                ok &= ~np.isfinite(second) | (best - second >= rule.margin)
            known = np.isin(ql, g)
            right = g[order[:, 0]] == ql
            same_sex = ~known & np.isin(sexes[ql], np.unique(sexes[g])) if len(np.unique(sexes[g])) == 1 else None
            one_sex = {"female": "women_strangers_of_women", "male": "men_strangers_of_men"}
            by_sex = one_sex[sexes[g[0]]] if same_sex is not None and sexes[g[0]] in one_sex else None
            for key, mask, hit in (("strangers", ~known, ok), ("right", known, ok & right),
                                   ("wrong", known, ok & ~right), ("strangers_same_sex", same_sex, ok),
                                   (by_sex, same_sex, ok)):
                if key is not None and mask is not None:
                    counts[key][0] += int(hit[mask].sum())
                    counts[key][1] += int(mask.sum())
        out[str(size)] = {k: {"rate": a / n if n else None, "accepted": a, "queries": n} for k, (a, n) in counts.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--val", type=Path, required=True)
    ap.add_argument("--gender", type=Path, required=True, help="facecom_gender (train/ and val/ inside)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--db", type=Path, default=DEFAULT_CACHE / "ship_calibration.db", help="embedding cache of val")
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0, help="the train split of training/ship_calibration.py")
    ap.add_argument("--json-out", type=Path, default=None, help="also write every count here (JSON)")
    a = ap.parse_args()
    train, card = embed_crops(a.model, a.train, DEFAULT_CACHE)
    shipped = shipped_calibration(card)
    if shipped is None:
        raise SystemExit(f"no shipped calibration for {card}: run python -m training.ship_calibration first")
    _, fit_names, check_names = split_identities(train.names, a.seed)
    fit, check = subset(train, fit_names), subset(train, check_names)
    val, _ = embed_folder(Gallery.open(str(a.db), model=a.model, create=True), a.val)
    t_before, _ = verification_threshold(fit, "far", 0.01)
    before = {n: identification_threshold(fit, 0.01, n)[0] for n in SIZES}
    after = {n: shipped.rule(n)[1] for n in SIZES}
    report = {"model": card.model, "checksum": card.checksum, "verification_before": t_before,
              "verification_after": shipped.verification,
              "rules_before": {n: [r.score, r.margin] for n, r in before.items()},
              "rules_after": {n: [r.score, r.margin] for n, r in after.items()}}
    for name, data, split in (("train check third", check, "train"), ("val", val, "val")):
        genders = identity_genders(a.gender / split, data.names)
        sexes = np.array([genders.get(n, "?") for n in data.names])
        raw = far_by_group(data, t_before, genders)
        data.cohort = shipped.cohort
        normed = far_by_group(data, shipped.verification, genders)
        data.cohort = None
        report[name] = {"compare_before": raw, "compare_after": normed,
                        "galleries_before": galleries(data, sexes, before, None, a.draws),
                        "galleries_after": galleries(data, sexes, after, shipped.cohort, a.draws)}
    if a.json_out is not None:
        a.json_out.write_text(json.dumps(report, indent=1))
    pct = lambda v: "-" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    print("# Shipped calibration against today's cosine rules: false accepts by sex, small galleries\n")
    print(f"before: cosine, verification {t_before:.4f}, identification "
          + ", ".join(f"{n}: floor {r.score:.4f} margin {r.margin if r.margin is None else round(r.margin, 4)}"
                      for n, r in before.items())
          + f"; after: shipped (cohort units), verification {shipped.verification:.4f}, identification "
          + ", ".join(f"{n}: floor {r.score:.4f} margin {r.margin if r.margin is None else round(r.margin, 4)}"
                      for n, r in after.items()))
    for name in ("train check third", "val"):
        r = report[name]
        print(f"\n## {name}\n\n| compare, impostors accepted | before (cosine {t_before:.4f}) | after (shipped, cohort-normalised) |")
        print("|---|---|---|")
        for g in ("all", "woman-woman", "man-man", "mixed"):
            b, f = r["compare_before"][g], r["compare_after"][g]
            print(f"| {g} ({b['pairs']:,} pairs) | {pct(b['far'])} | {pct(f['far'])} |")
        print(f"| genuine accepted (TAR) | {pct(r['compare_before']['tar'])} | {pct(r['compare_after']['tar'])} |")
        print("\n| gallery of | strangers accepted | of the same sex | women of women | men of men | "
              "enrolled named rightly | wrongly |")
        print("|---|---|---|---|---|---|---|")
        for n in SIZES:
            for when in ("before", "after"):
                s = r[f"galleries_{when}"][str(n)]
                print(f"| {n} ({when}) | {pct(s['strangers']['rate'])} | {pct(s['strangers_same_sex']['rate'])} | "
                      f"{pct(s['women_strangers_of_women']['rate'])} | {pct(s['men_strangers_of_men']['rate'])} | "
                      f"{pct(s['right']['rate'])} | {pct(s['wrong']['rate'])} |")


if __name__ == "__main__":
    main()
