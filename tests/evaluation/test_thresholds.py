import numpy as np
import pytest

from facesearch.errors import DataError
from facesearch.evaluation import metrics
from facesearch.evaluation.labelled import Labelled, identification_scores
from facesearch.evaluation.thresholds import (identification_threshold, needed, stranger_scores,
                                              verification_threshold)


def synthetic(identities=60, dim=32, seed=0):
    """Each identity: a clean photo and three noisy copies, on the unit sphere."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(identities, dim))
    emb, labels, kinds, source = [], [], [], []
    for i, c in enumerate(centres):
        for k, noise in enumerate((0.0, 0.6, 0.6, 0.6)):
            emb.append(c + noise * rng.normal(size=dim))
            labels.append(i)
            kinds.append("clean" if k == 0 else "noisy")
            source.append(f"id{i}/0")
    emb = np.array(emb, np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Labelled([f"{i}" for i in range(len(emb))], np.array(labels), [f"id{i}" for i in range(identities)],
                    kinds, source, emb)


def accepted_share(best, second, rule):
    from facesearch.types import Match
    return np.mean([rule.accepts([Match("a", b, ""), Match("b", s, "")] if np.isfinite(s) else [Match("a", b, "")], None)
                    for b, s in zip(best, second)])


def test_identification_rule_holds_fpir_in_galleries_of_the_given_size():
    data = synthetic()
    r10, i10 = identification_threshold(data, target=0.1, size=10)
    r50, i50 = identification_threshold(data, target=0.1, size=50)
    assert i10["method"].startswith("simulated") and i50["gallery_size"] == 50
    assert r10.score == r50.score and r10.margin >= 0 and i10["margin"] == r10.margin  # one floor: per identity
    assert i10["fpir"] <= 0.1 and i50["fpir"] <= 0.1
    best, second = stranger_scores(data, 10, seed=5)  # other galleries than the ones it was chosen on
    assert len(best) == 10 * 180 and accepted_share(best, second, r10) <= 0.13
    # the best score alone needs a stricter score for the same FPIR, and names fewer enrolled people
    score_only = metrics.threshold_at_far(stranger_scores(data, 10)[0], 0.1)
    assert score_only > r10.score
    hit, _ = identification_scores(data)
    assert i10["tpir"] >= np.mean(hit >= score_only)


def test_a_gallery_of_one_is_decided_by_the_floor():
    data = synthetic()
    rule, info = identification_threshold(data, target=0.1, size=1)
    assert rule.margin is None and info["fpir"] <= 0.1


def test_extrapolation_beyond_the_labelled_identities_holds_the_smaller_target():
    data = synthetic(identities=120)
    rule, info = identification_threshold(data, target=0.1, size=238, force=True)
    assert "extrapolated to 238" in info["method"] and "galleries of 119" in info["method"]
    with pytest.raises(DataError, match="3,600 simulated stranger searches cannot support FPIR 0.1 in a gallery of 10,000"):
        identification_threshold(data, target=0.1, size=10_000)
    assert rule.margin is not None and info["fpir"] <= 0.1
    # in galleries of 119 it holds 1 - (1 - 0.1)^(119 / 238), about 0.05
    best, second = stranger_scores(data, 119, seed=3)
    assert accepted_share(best, second, rule) <= 0.1 / 2 + 0.02


def test_extrapolation_from_single_identities_is_the_best_score_alone():
    data = synthetic(identities=2)
    with pytest.raises(DataError, match="cannot support"):
        identification_threshold(data, target=0.1, size=50)
    rule, info = identification_threshold(data, target=0.1, size=50, force=True)
    assert rule.margin is None and "best score alone" in info["method"]
    from facesearch.evaluation import thresholds
    scores, _ = thresholds.identity_scores(data)
    p = 1 - (1 - 0.1) ** (1 / 50)
    assert rule.score == metrics.threshold_at_far(scores[np.isfinite(scores)], p)


def test_too_few_queries_for_the_target():
    data = synthetic(identities=10)
    with pytest.raises(DataError, match="30 queries cannot support --target-fpir 0.01: at least 1,000"):
        identification_threshold(data, target=0.01, size=5)
    identification_threshold(data, target=0.01, size=5, force=True)
    assert needed(0.01) == 1000
    t, rates = verification_threshold(data, "far", 0.05)
    assert rates["far"] <= 0.05
