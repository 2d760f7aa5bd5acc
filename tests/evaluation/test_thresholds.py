import numpy as np
import pytest

from facesearch.errors import DataError
from facesearch.evaluation.labelled import Labelled
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


def test_identification_threshold_grows_with_the_gallery():
    data = synthetic()
    t10, r10 = identification_threshold(data, target=0.1, size=10)
    t50, r50 = identification_threshold(data, target=0.1, size=50)
    assert t50 > t10 and r10["method"].startswith("simulated") and r50["gallery_size"] == 50
    assert r10["fpir"] <= 0.1 and r50["fpir"] <= 0.1
    strangers = stranger_scores(data, 10)
    assert len(strangers) == 10 * 180 and np.mean(strangers >= t10) <= 0.1


def test_extrapolation_beyond_the_labelled_identities_agrees_with_simulation():
    data = synthetic(identities=120)
    simulated, _ = identification_threshold(data, target=0.1, size=100)
    t, info = identification_threshold(data, target=0.1, size=1000, force=True)  # 43k comparisons, 95k wanted
    assert info["method"].startswith("extrapolated") and t > simulated
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
