"""Verification metrics from genuine and impostor similarity scores (pure numpy)."""
from __future__ import annotations

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
    tp = int(np.sum(genuine >= threshold))
    fp = int(np.sum(impostor >= threshold))
    fn = len(genuine) - tp
    tn = len(impostor) - fp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "accuracy": (tp + tn) / max(1, tp + tn + fp + fn), "far": fp / max(1, fp + tn), "tar": recall}


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


def roc(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds), thresholds descending."""
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    g, i = np.sort(genuine), np.sort(impostor)
    tar = 1 - np.searchsorted(g, thresholds, side="left") / len(g)
    far = 1 - np.searchsorted(i, thresholds, side="left") / len(i)
    return np.r_[0.0, far], np.r_[0.0, tar], np.r_[np.inf, thresholds]


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Probability a genuine score beats an impostor score (ties count half)."""
    both = np.concatenate([genuine, impostor])
    ranks = _average_ranks(both)
    n_g, n_i = len(genuine), len(impostor)
    return float((ranks[:n_g].sum() - n_g * (n_g + 1) / 2) / (n_g * n_i))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sx = x[order]
    ranks[order] = np.arange(1, len(x) + 1)
    # average ties
    uniq, inv, counts = np.unique(sx, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=np.arange(1, len(x) + 1))
    ranks[order] = (sums / counts)[inv]
    return ranks


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    return far_tar(genuine, impostor, threshold_at_far(impostor, far))[1]
