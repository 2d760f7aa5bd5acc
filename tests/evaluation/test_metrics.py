import numpy as np
import pytest

from facesearch.evaluation import metrics


def test_far_tar_arithmetic_by_hand():
    genuine = np.array([0.9, 0.8, 0.4, 0.3])
    impostor = np.array([0.5, 0.2, 0.1, 0.0, -0.1])
    # accepted at 0.35: genuine 0.9, 0.8, 0.4 (3 of 4); impostor 0.5 (1 of 5)
    assert metrics.far_tar(genuine, impostor, 0.35) == (0.2, 0.75)
    p = metrics.prf(genuine, impostor, 0.35)
    assert p["precision"] == pytest.approx(3 / 4) and p["recall"] == 0.75 and p["f1"] == pytest.approx(0.75)
    assert p["accuracy"] == pytest.approx((3 + 4) / 9)


def test_threshold_at_far_respects_target():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0, 0.1, 100_000).astype(np.float32)
    genuine = rng.normal(0.7, 0.05, 5_000).astype(np.float32)
    for target in (1e-3, 1e-2, 1e-1):
        t = metrics.threshold_at_far(impostor, target)
        far, tar = metrics.far_tar(genuine, impostor, t)
        assert far <= target and far > target * 0.9
        assert abs(t - np.quantile(impostor, 1 - target)) < 0.01
    assert metrics.tar_at_far(genuine, impostor, 1e-2) > 0.99


def test_max_f1_threshold_separates_clean_split():
    genuine = np.array([0.8, 0.7, 0.65])
    impostor = np.array([0.3, 0.2, 0.6])
    t = metrics.threshold_max_f1(genuine, impostor)
    assert metrics.prf(genuine, impostor, t)["f1"] == 1.0 and 0.6 < t <= 0.65


def test_roc_auc_matches_pairwise_definition():
    rng = np.random.default_rng(1)
    g, i = rng.normal(0.5, 0.2, 300), rng.normal(0.2, 0.2, 400)
    brute = np.mean(g[:, None] > i[None, :]) + 0.5 * np.mean(g[:, None] == i[None, :])
    assert metrics.roc_auc(g, i) == pytest.approx(brute)
    assert metrics.roc_auc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5


def test_roc_is_monotone():
    rng = np.random.default_rng(2)
    far, tar, thr = metrics.roc(rng.normal(1, 1, 100), rng.normal(0, 1, 100))
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(tar) >= 0) and far[-1] == tar[-1] == 1


def test_roc_points_are_the_rates_at_each_threshold():
    rng = np.random.default_rng(3)
    genuine = np.round(rng.normal(0.6, 0.2, 300), 2)  # rounded: many ties
    impostor = np.round(rng.normal(0.1, 0.2, 900), 2)
    far, tar, thresholds = metrics.roc(genuine, impostor)
    assert thresholds[0] == np.inf and far[0] == tar[0] == 0
    assert len(thresholds) == len(np.unique(np.r_[genuine, impostor])) + 1
    for f, t, th in zip(far[1:], tar[1:], thresholds[1:]):
        assert (f, t) == pytest.approx(metrics.far_tar(genuine, impostor, th))


def test_classification_report_per_class_and_confusion():
    from facesearch.evaluation.metrics import classification

    m = classification([0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 0], ["female", "male"])
    assert m["confusion"] == [[1, 1], [1, 3]] and m["n"] == 6
    assert m["balanced_accuracy"] == (0.5 + 0.75) / 2 and m["per_class"]["male"]["precision"] == 0.75
    assert classification([1, 1], [1, 0], ["female", "male"])["balanced_accuracy"] == 0.5  # one class: its recall
