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
    assert rule.margin == 0.0 and info["fpir"] <= 0.1


def test_extrapolation_beyond_the_labelled_identities_agrees_with_simulation():
    data = synthetic(identities=120)
    rule, info = identification_threshold(data, target=0.1, size=1000, force=True)  # 43k comparisons, 95k wanted
    assert info["method"].startswith("extrapolated") and rule.margin is None
    simulated = metrics.threshold_at_far(stranger_scores(data, 100)[0], 0.1)  # the best score alone, simulated
    assert rule.score > simulated
    # the same extrapolation, asked for a size the data can simulate, lands close to it
    from facesearch.evaluation import thresholds
    p = 1 - (1 - 0.1) ** (1 / 100)
    scores, _ = thresholds.identity_scores(data)
    per = scores[np.isfinite(scores)]
    assert abs(float(np.quantile(per, 1 - p)) - simulated) < 0.05


def test_too_few_queries_for_the_target():
    data = synthetic(identities=10)
    with pytest.raises(DataError, match="30 queries cannot support --target-fpir 0.01: at least 1,000"):
        identification_threshold(data, target=0.01, size=5)
    identification_threshold(data, target=0.01, size=5, force=True)
    assert needed(0.01) == 1000
    t, rates = verification_threshold(data, "far", 0.05)
    assert rates["far"] <= 0.05
