"""Which statistic should decide "known or stranger"? Open-set identification rules compared
at one FPIR target, chosen on one set of identities and measured on another.

    python benchmarks/open_set_rules.py ../shared/data/facecom/train ../shared/data/facecom/val \
        --db val.db [--runs 10] [--identities 126] [--target 0.01] [--markdown FILE]

Each run draws ``--identities`` identities, enrols the clean photos of half of them and
queries the distorted photos of all (as ``facesearch eval``'s open set). A rule's threshold
is set so that ``--target`` of the stranger queries of the *calibration* identities are
accepted; its rates are then measured on the *test* identities: strangers accepted, enrolled
people accepted with the right name and with a wrong one. Unusable faces (quality gate) are
never accepted. Two pairs: train identities split in two (where the rule is chosen) and
val's halves (reported only: val's people were never used to train the shipped model).
Embeddings come from the DB's cache (``calibrate``/``eval`` fill it), else are computed.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from facesearch.evaluation import metrics
from facesearch.evaluation.labelled import Labelled, embed_folder
from facesearch.gallery import Gallery

COHORT = 20  # ranks 2..21: the query's look-alikes in the gallery

RULES = {  # name -> statistic of (best, runner-up, mean and std of the cohort)
    "best score": lambda b, s, m, sd: b,
    "best - 0.5 runner-up": lambda b, s, m, sd: b - 0.5 * s,
    "best - runner-up (margin)": lambda b, s, m, sd: b - s,
    "best - cohort mean": lambda b, s, m, sd: b - m,
    "cohort z-score": lambda b, s, m, sd: (b - m) / (sd + 1e-6),
}


def subset(data: Labelled, names: list[str]) -> Labelled:
    keep = np.isin(data.labels, [data.names.index(n) for n in names])
    idx = np.flatnonzero(keep)
    return Labelled([data.paths[i] for i in idx], data.labels[idx], data.names, [data.kinds[i] for i in idx],
                    [data.source[i] for i in idx], data.emb[idx], data.usable[idx])


def rows(data: Labelled, identities: int, runs: int, seed: int) -> np.ndarray:
    """Per query: (stranger, right top-1, usable, best, runner-up, cohort mean, cohort std)."""
    names, out = sorted(set(data.labels.tolist())), []
    clean = np.array(data.kinds) == "clean"
    for r in range(runs):
        drawn = random.Random(seed + r).sample(names, min(identities, len(names)))
        enrolled = np.array(drawn[: len(drawn) // 2])
        g = clean & np.isin(data.labels, enrolled)
        q = ~clean & np.isin(data.labels, drawn)
        sims = data.emb[q] @ data.emb[g].T
        per = np.stack([sims[:, data.labels[g] == c].max(axis=1) for c in enrolled], axis=1)
        order = np.argsort(-per, axis=1)
        top = np.take_along_axis(per, order, axis=1)
        known = np.isin(data.labels[q], enrolled)
        out.append(np.c_[~known, enrolled[order[:, 0]] == data.labels[q], data.usable[q], top[:, 0], top[:, 1],
                         top[:, 1:COHORT + 1].mean(axis=1), top[:, 1:COHORT + 1].std(axis=1)])
    return np.concatenate(out).astype(float)


def rates(cal: np.ndarray, test: np.ndarray, target: float) -> dict[str, tuple[float, float, float]]:
    out = {}
    for name, rule in RULES.items():
        c, t = rule(*cal[:, 3:7].T), rule(*test[:, 3:7].T)
        strangers = cal[:, 0] == 1
        c = np.where(cal[:, 2] == 1, c, -np.inf)  # unusable: never accepted
        thr = metrics.threshold_at_far(c[strangers], target)
        acc = (t >= thr) & (test[:, 2] == 1)
        s, k = test[:, 0] == 1, test[:, 0] == 0
        out[name] = (acc[s].mean(), (acc & (test[:, 1] == 1))[k].mean(), (acc & (test[:, 1] == 0))[k].mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("train", type=Path)
    ap.add_argument("val", type=Path)
    ap.add_argument("--db", type=Path, required=True, help="a gallery DB (its encoder; its embedding cache)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--identities", type=int, default=126, help="identities per run (half enrolled)")
    ap.add_argument("--target", type=float, default=0.01, help="FPIR on the calibration identities")
    ap.add_argument("--markdown", type=Path, default=None)
    a = ap.parse_args()
    gallery = Gallery(a.db)
    train, _ = embed_folder(gallery, a.train)
    val, _ = embed_folder(gallery, a.val)
    t_names = sorted(train.names)
    random.Random(1).shuffle(t_names)
    half = len(t_names) // 2
    v_names = sorted(val.names)
    pairs = {"train identities: chosen on one half, measured on the other":
             (subset(train, t_names[:half]), subset(train, t_names[half:])),
             "val identities (reported only): calibrated on half A, measured on half B":
             (subset(val, v_names[0::2]), subset(val, v_names[1::2]))}
    lines = [f"# Open-set decision rules at FPIR {a.target:g}", "",
             f"`python benchmarks/open_set_rules.py {a.train} {a.val} --db {a.db.name} --runs {a.runs} "
             f"--identities {a.identities} --target {a.target:g}` (encoder {gallery.encoder.card.arch})", ""]
    for label, (cal, test) in pairs.items():
        r = rates(rows(cal, a.identities, a.runs, 0), rows(test, a.identities, a.runs, 100), a.target)
        lines += [f"## {label}", "", "| rule | strangers accepted | right name | wrong name |", "|---|---|---|---|"]
        lines += [f"| {n} | {s:.2%} | {k:.1%} | {w:.2%} |" for n, (s, k, w) in r.items()]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        a.markdown.write_text(text)


if __name__ == "__main__":
    main()
