"""Verification metrics from genuine and impostor similarity scores (ROC: scikit-learn)."""
from __future__ import annotations

import warnings

import numpy as np


def far_tar(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    """False-accept rate (impostor pairs >= t) and true-accept rate (genuine pairs >= t)."""
    return float(np.mean(impostor >= threshold)), float(np.mean(genuine >= threshold))


def threshold_at_far(impostor: np.ndarray, target_far: float) -> float:
    """Smallest threshold whose FAR is <= target_far (ties at the threshold count as accepts)."""
    s = np.sort(impostor)[::-1]
    allowed = int(np.floor(target_far * len(s)))  # how many impostors may be accepted
    if allowed >= len(s):
        return float(s[-1])
    # accept strictly above s[allowed]: the next representable float up
    return float(np.nextafter(np.float32(s[allowed]), np.float32(np.inf)))


def prf(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> dict:
    """Pair metrics at ``threshold``; a rate with no pairs to measure it on is None."""
    tp = int(np.sum(genuine >= threshold))
    fp = int(np.sum(impostor >= threshold))
    fn = len(genuine) - tp
    tn = len(impostor) - fp
    precision = tp / (tp + fp) if tp + fp else 1.0  # nothing accepted: no false accept
    recall = tp / (tp + fn) if tp + fn else None
    f1 = None
    if recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = tp + tn + fp + fn
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": (tp + tn) / total if total else None,
            "far": fp / (fp + tn) if fp + tn else None, "tar": recall}


def threshold_max_f1(genuine: np.ndarray, impostor: np.ndarray) -> float:
    scores = np.concatenate([genuine, impostor])
    is_gen = np.concatenate([np.ones(len(genuine), bool), np.zeros(len(impostor), bool)])
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_gen[order])
    fp = np.cumsum(~is_gen[order])
    f1 = 2 * tp / (tp + fp + len(genuine))
    # only cut between distinct scores
    last = np.r_[scores[order][1:] != scores[order][:-1], True]
    best = np.argmax(np.where(last, f1, -1))
    return float(scores[order][best])


def _labelled(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.ones(len(genuine), np.int8), np.zeros(len(impostor), np.int8)]
    return y, np.concatenate([genuine, impostor])


def roc(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds), thresholds descending from +inf (the point (0, 0))."""
    from sklearn.metrics import roc_curve

    far, tar, thresholds = roc_curve(*_labelled(genuine, impostor), drop_intermediate=False)
    return far, tar, thresholds


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float | None:
    """Probability a genuine score beats an impostor score (ties count half); None
    without both kinds of pairs."""
    from sklearn.metrics import roc_auc_score

    if not len(genuine) or not len(impostor):
        return None
    return float(roc_auc_score(*_labelled(genuine, impostor)))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float | None:
    """TAR at the threshold of FAR ``far``; None without both kinds of pairs."""
    if not len(genuine) or not len(impostor):
        return None
    return far_tar(genuine, impostor, threshold_at_far(impostor, far))[1]


def classification(y_true, y_pred, classes: list[str]) -> dict:
    """Balanced accuracy, accuracy, per-class precision/recall/F1/support and the confusion
    matrix (rows: true class, columns: predicted, in ``classes`` order) of class indices.
    On a subset holding one class only, balanced accuracy is that class's recall."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, \
        precision_recall_fscore_support

    y_true, y_pred, labels = np.asarray(y_true), np.asarray(y_pred), list(range(len(classes)))
    if not len(y_true):
        return {"n": 0}
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    with warnings.catch_warnings():  # a subset of one class: balanced accuracy is its recall, as documented
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(balanced_accuracy_score(y_true, y_pred))
    return {"n": int(len(y_true)), "balanced_accuracy": balanced,
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                          for i, c in enumerate(classes)},
            "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist()}
