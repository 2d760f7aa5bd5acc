"""What happens around the training loop, as callbacks (insightface arcface_torch style):
validation on the real task, the best checkpoint with early stopping, the resumable
last checkpoint. Each callback sees the :class:`~training.trainer.Trainer` and the epoch's
record (epoch, loss, images/s), which it may extend; the trainer keeps the history."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from facesearch.evaluation.protocols import protocols

log = logging.getLogger(__name__)


class Callback:
    def on_start(self, trainer) -> None:
        """Before the first epoch of a new run (not on resume)."""

    def on_epoch_end(self, trainer, record: dict) -> None:
        """After each epoch; ``record`` is already the newest entry of ``trainer.history``."""

    def on_end(self, trainer) -> None:
        """After the last epoch (or an early stop)."""


def brief(metrics: dict) -> dict:
    """Flat history fields: ``A_top1``, ``A_<distortion>``, ... per protocol."""
    return {f"{p}_top1": m["top1"] for p, m in metrics.items()} | {
        f"{p}_{k}": v for p, m in metrics.items() for k, v in m["by_distortion"].items()}


def describe(metrics: dict) -> str:
    """One log line: each protocol's top-1 and its hardest distortion."""
    parts = []
    for p, m in metrics.items():
        worst = min(m["by_distortion"].items(), key=lambda kv: kv[1], default=None)
        parts.append(f"{p} top-1 {m['top1']:.3f}" + (f" (worst: {worst[0]} {worst[1]:.3f})" if worst else ""))
    return "  ".join(parts) or "(no validation set)"


class Validate(Callback):
    """Protocols A and B on the validation set, for the starting weights and every epoch;
    the latest scores are ``trainer.metrics``."""

    def score(self, trainer) -> dict:
        trainer.metrics = protocols(trainer.embed(trainer.val_set, "val"), trainer.val_set) if trainer.val_set else {}
        return trainer.metrics

    def on_start(self, trainer) -> None:
        metrics = self.score(trainer)
        trainer.history.append({"epoch": 0, **brief(metrics)})
        log.info("epoch 0 (start): %s", describe(metrics))

    def on_epoch_end(self, trainer, record: dict) -> None:
        metrics = self.score(trainer)
        record.update(brief(metrics))
        log.info("epoch %d: loss %.3f  %s", record["epoch"], record["loss"], describe(metrics))


class KeepBest(Callback):
    """``best.pt`` by protocol B top-1, then A (by lowest loss without validation); asks
    the trainer to stop after ``patience`` epochs without a new best. The starting weights'
    score is the first best to beat."""

    def __init__(self, path: Path, patience: int):
        self.path, self.patience = Path(path), patience

    def on_start(self, trainer) -> None:
        if trainer.metrics:
            self.consider(trainer, trainer.metrics, None)

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.consider(trainer, trainer.metrics, record.get("loss"))
        trainer.should_stop = trainer.bad_epochs >= self.patience

    def consider(self, trainer, metrics: dict, loss: float | None) -> None:
        key = ((metrics.get("B", {}).get("top1", 0.0), metrics.get("A", {}).get("top1", 0.0)) if metrics
               else (-loss, 0.0))
        if trainer.best is None or tuple(key) > tuple(trainer.best["key"]):
            trainer.best = {"key": list(key), "epoch": trainer.epoch, "metrics": metrics}
            trainer.bad_epochs = 0
            trainer.save(self.path, metrics, full=False)
            log.info("new best (epoch %d): %s", trainer.epoch, self.path)
        else:
            trainer.bad_epochs += 1


class SaveLast(Callback):
    """``last.pt`` after every epoch (everything :meth:`Trainer.resume` needs) and the
    history as JSON beside it at the end."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_epoch_end(self, trainer, record: dict) -> None:
        trainer.save(self.path, trainer.metrics)

    def on_end(self, trainer) -> None:
        (self.path.parent / "history.json").write_text(json.dumps(trainer.history, indent=2))
