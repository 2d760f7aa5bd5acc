"""How well does `calibrate` extrapolate the identification rule to a gallery larger than
its labelled data can simulate?

    python benchmarks/open_set_extrapolation.py ../shared/data/facecom/val --db val.db [--draws 3]

Each draw calibrates on a random half of the identities (126), for a gallery of N = all
identities - 1 (which that half cannot simulate: the rule is chosen in galleries of 125 and
extrapolated), then measures FPIR and TPIR in simulated galleries of N over *all*
identities. Beside it, the best score alone extrapolated from the per-identity false-match
rate (the fallback before the margin rule). Target FPIR 1%.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from facesearch.evaluation import metrics
from facesearch.evaluation.labelled import embed_folder
from facesearch.evaluation.thresholds import (_margins, genuine_accept_rate, identification_threshold,
                                              identity_scores, stranger_scores)
from facesearch.gallery import Gallery
from facesearch.types import AcceptRule

from open_set_rules import subset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--target", type=float, default=0.01)
    a = ap.parse_args()
    data, _ = embed_folder(Gallery(a.db), a.root)
    names = sorted(data.names)
    size = len(names) - 1
    best, second = stranger_scores(data, size, seed=7)
    print(f"calibrated on {len(names) // 2 + 1} identities for a gallery of {size}; measured in galleries of {size} "
          f"of all {len(names)}; target FPIR {a.target:g}")
    print("| draw | floor + margin, extrapolated: FPIR | TPIR | best score alone, extrapolated: FPIR | TPIR |")
    print("|---|---|---|---|---|")
    for d in range(a.draws):
        part = subset(data, random.Random(d).sample(names, len(names) // 2 + 1))
        rule, _ = identification_threshold(part, a.target, size)
        scores, _ = identity_scores(part)
        p = 1 - (1 - a.target) ** (1 / size)
        alone = AcceptRule(metrics.threshold_at_far(scores[np.isfinite(scores)], p))
        print(f"| {d} | {np.mean(_margins(best, second, rule.score) >= rule.margin):.2%} | "
              f"{genuine_accept_rate(data, rule, size):.1%} | {np.mean(best >= alone.score):.2%} | "
              f"{genuine_accept_rate(data, alone, size):.1%} |")


if __name__ == "__main__":
    main()
