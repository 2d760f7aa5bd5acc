"""The shipped identification target is chosen by the CLI's open set on unseen halves of the
fit third (training/open_set.py), on synthetic people."""
import numpy as np

from facesearch.evaluation.labelled import Labelled
from facesearch.gallery.cohort import fit_cohort
from facesearch.types import AcceptRule
from training.open_set import both_halves, cap_queries, choose_target, open_set, rates
from training.ship_calibration import identification_rules, rules_for, subset


def people(n: int, seed: int = 0, photos: int = 6, dim: int = 16, spread: float = 0.6) -> Labelled:
    rng = np.random.default_rng(seed)
    emb, labels, kinds, paths = [], [], [], []
    for i in range(n):
        centre = rng.normal(size=dim) * spread + 1.0  # crowded: strangers look alike
        for p in range(photos):
            emb.append(centre + 0.35 * rng.normal(size=dim))
            labels.append(i)
            kinds.append("clean" if p == 0 else "noisy")
            paths.append(f"p{i:03d}/{'' if p == 0 else 'distortion/'}{p}.jpg")
    emb = np.array(emb, np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Labelled(paths, np.array(labels), [f"p{i:03d}" for i in range(n)], kinds, paths, emb)


def test_cap_queries_keeps_every_clean_photo_and_at_most_n_distorted():
    data = cap_queries(people(5), 2)
    kinds = np.array(data.kinds)
    assert (kinds == "clean").sum() == 5
    assert all(((data.labels == i) & (kinds != "clean")).sum() == 2 for i in range(5))


def test_open_set_counts_strangers_and_names_like_the_cli_rule():
    data = people(40)
    cohort = fit_cohort(data.emb, data.labels, 4, 1, shift=True)
    names = sorted(data.names)
    lenient = open_set(data, names, names[::2], cohort, lambda n: (n, AcceptRule(-1e9, None)))
    strict = open_set(data, names, names[::2], cohort, lambda n: (n, AcceptRule(1e9, None)))
    stranger = [c for n, c in lenient.items() if n not in names[::2]]
    assert all(c[0] == c[1] == 5 for c in stranger)  # every stranger query is named someone
    assert all(c[0] == 0 and c[2] == c[3] == 0 for n, c in strict.items())  # nothing accepted
    enrolled = [lenient[n] for n in names[::2]]
    assert sum(c[2] + c[3] for c in enrolled) == sum(c[4] for c in enrolled) == 20 * 5
    total = both_halves(data, names, cohort, lambda n: (n, AcceptRule(-1e9, None)))
    assert all(c[1] == 5 and c[4] == 5 for c in total.values())  # each person a stranger once, enrolled once
    r = rates(total)
    assert r["strangers"] == 1.0 and r["stranger_queries"] == 200 and 0.0 <= r["strangers_se"] < 1e-9


def test_choose_target_ships_the_largest_target_within_the_goal():
    data = people(80, seed=1)
    cohort = fit_cohort(data.emb, data.labels, 4, 1, shift=True)
    data.cohort = cohort

    def choose(names, target):
        return rules_for(identification_rules(subset(data, names), {}, target, force=True))

    goal = 0.05
    out = choose_target(data, cohort, choose, targets=(0.2, 0.1, 0.05, 0.02), goal=goal, halvings=2)
    table = {r["target_fpir"]: r for r in out["candidates"]}
    within = [t for t, r in table.items() if r["strangers"] + r["strangers_se"] <= goal]
    assert out["chosen"] == max(within)
    assert table[0.02]["strangers"] <= table[0.2]["strangers"]  # a stricter target lets fewer strangers in
    assert table[0.2]["strangers"] > goal  # the lenient candidate is refused on these people
