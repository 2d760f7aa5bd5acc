"""PNG plots for calibration and evaluation (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def histogram(genuine, impostor, thresholds: float | dict[str, float] | None, path: Path) -> Path:
    """Genuine vs impostor score densities; ``thresholds``: one value or named ones."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(min(genuine.min(), impostor.min()), max(genuine.max(), impostor.max()), 80)
    ax.hist(impostor, bins=bins, density=True, alpha=0.6, label=f"impostor ({len(impostor):,} pairs)")
    ax.hist(genuine, bins=bins, density=True, alpha=0.6, label=f"genuine ({len(genuine):,} pairs)")
    if thresholds is not None and not isinstance(thresholds, dict):
        thresholds = {"threshold": thresholds}
    for (name, t), style in zip((thresholds or {}).items(), ("--", ":")):
        ax.axvline(t, color="k", linestyle=style, label=f"{name} {t:.3f}")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.legend(loc="upper right")  # "best" scans every bar: slow for 18M pairs
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_curve(far, tar, path: Path, threshold_point: tuple[float, float] | None = None) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ok = far > 0
    ax.plot(far[ok], tar[ok])
    if threshold_point:
        ax.plot(*threshold_point, "o", color="k", label="calibrated threshold")
        ax.legend(loc="lower right")
    ax.set_xscale("log")
    ax.set_xlabel("false accept rate (impostor pairs)")
    ax.set_ylabel("true accept rate")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def det_curve(fpir, fnir, thresholds, path: Path, marks: dict[str, float] | None = None,
              margin_curve: dict | None = None) -> Path:
    """Identification DET: FNIR (enrolled, not accepted with the right name) against FPIR
    (strangers accepted), both on log axes, by the best score alone; ``marks``: named
    score thresholds shown on that curve; ``margin_curve``: the calibrated rule's curve
    (score floor + margin over the runner-up) with its operating point."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ok = (fpir > 0) & (fnir > 0)
    ax.plot(fpir[ok], fnir[ok], label="best score alone")
    if margin_curve is not None:
        mf, mn = margin_curve["fpir"], margin_curve["fnir"]
        keep = (mf > 0) & (mn > 0)
        ax.plot(mf[keep], mn[keep], label="floor + margin (the rule `query` uses)")
        pf, pn = margin_curve["point"]
        ax.plot(max(pf, 1e-5), max(pn, 1e-5), "^", color="k", label=f"identification rule: FPIR {pf:.3f}, FNIR {pn:.3f}")
    for (name, t), marker in zip((marks or {}).items(), ("o", "s")):
        i = int(np.argmin(np.abs(np.asarray(thresholds) - t)))
        ax.plot(max(fpir[i], 1e-5), max(fnir[i], 1e-5), marker, color="k",
                label=f"{name} {t:.3f}: FPIR {fpir[i]:.3f}, FNIR {fnir[i]:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FPIR (strangers accepted)")
    ax.set_ylabel("FNIR (enrolled, not accepted correctly)")
    ax.grid(True, which="both", alpha=0.3)
    if marks or margin_curve is not None:
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def distortion_bars(by_distortion: dict[str, float], path: Path, title: str = "top-1 by distortion") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(by_distortion)
    ax.bar(names, [by_distortion[n] for n in names])
    ax.set_ylim(0, 1)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tsne(emb: np.ndarray, labels: np.ndarray, path: Path, max_identities: int = 20) -> Path:
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise RuntimeError("--tsne needs scikit-learn: pip install scikit-learn") from None
    plt = _plt()
    keep = np.isin(labels, np.unique(labels)[:max_identities])
    xy = TSNE(init="pca", perplexity=min(30, max(2, keep.sum() // 4)), random_state=0).fit_transform(emb[keep])
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(xy[:, 0], xy[:, 1], c=labels[keep], cmap="tab20", s=8)
    ax.set_title(f"t-SNE of embeddings ({max_identities} identities)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion(matrices: dict[str, list[list[int]]], classes: list[str], path: Path) -> Path:
    """One confusion matrix per named subset (rows: true class), side by side."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _plt()
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 3.4), squeeze=False)
    for ax, (name, cm) in zip(axes[0], matrices.items()):
        ConfusionMatrixDisplay(np.asarray(cm), display_labels=classes).plot(ax=ax, colorbar=False, cmap="Blues")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
