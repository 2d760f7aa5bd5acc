"""The shipped decision logic for galleries of 1, 2 and 10 people, on synthetic people: one
crowded group (strangers look alike) and one spread group. The rules are chosen on some
people, the cohort on others, and measured on people neither saw (training/ship_calibration.py)."""
import numpy as np
import pytest

from facesearch.evaluation.labelled import Labelled
from facesearch.evaluation.thresholds import identification_threshold, stranger_rate
from facesearch.gallery.cohort import fit_cohort

SPREAD = (0.45, 1.0)  # how far apart two people of the group are: the first is crowded


def population(per_group: int, seed: int, dim: int = 32, photos: int = 6) -> tuple[Labelled, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = np.random.default_rng(99).normal(size=(2, dim))
    emb, labels, kinds, group = [], [], [], []
    for g, spread in enumerate(SPREAD):
        for _ in range(per_group):
            person = centre[g] + spread * rng.normal(size=dim)
            for p in range(photos):
                emb.append(person + 0.35 * rng.normal(size=dim))
                labels.append(len(group))
                kinds.append("clean" if p == 0 else "noisy")
            group.append(g)
    emb = np.array(emb, np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.array(labels)
    names = [f"p{i:03d}" for i in range(len(group))]
    return Labelled([f"{i}" for i in range(len(labels))], labels, names, kinds,
                    [f"p{lab:03d}/0" for lab in labels], emb), np.array(group)


def of_group(data: Labelled, group: np.ndarray, g: int) -> Labelled:
    keep = np.flatnonzero(group == g)
    lookup = {old: new for new, old in enumerate(keep)}
    m = np.isin(data.labels, keep)
    return Labelled([p for p, k in zip(data.paths, m) if k], np.array([lookup[x] for x in data.labels[m]]),
                    [data.names[i] for i in keep], [k for k, x in zip(data.kinds, m) if x],
                    [s for s, x in zip(data.source, m) if x], data.emb[m], None, data.cohort)


@pytest.fixture(scope="module")
def people():
    return population(100, 3)[0], population(100, 1), population(100, 2)


def rates(people, cohort) -> dict:
    """{size: [crowded group's strangers accepted, spread group's, everyone's]} on new people."""
    _, (fit, _), (test, group) = people
    fit.cohort = test.cohort = cohort
    out = {}
    for size in (1, 2, 10):
        rule, _ = identification_threshold(fit, 0.01, size)
        out[size] = [stranger_rate(of_group(test, group, g), rule, size) for g in (0, 1)] + [
            stranger_rate(test, rule, size)]
    return out


def test_a_global_floor_fails_the_crowded_group_alone(people):
    raw = rates(people, None)
    crowded, spread, _ = raw[1]
    assert crowded > 0.02 and spread < 0.002  # one-person galleries: lookalike strangers pass


def test_cohort_rules_hold_every_group_in_small_galleries(people):
    pool = people[0]
    cohort = fit_cohort(pool.emb, pool.labels, 16, 3)
    for size, (crowded, spread, everyone) in rates(people, cohort).items():
        assert everyone <= 0.015, size  # the FPIR target (1%), on people the rules never saw
        assert max(crowded, spread) <= 0.025, size  # no group far above it
