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


def brief(metrics: dict, prefix: str = "") -> dict:
    """Flat history fields: ``A_top1``, ``A_<distortion>``, ... per protocol (``prefix``
    first, e.g. ``val_A_top1``)."""
    return {f"{prefix}{p}_top1": m["top1"] for p, m in metrics.items()} | {
        f"{prefix}{p}_{k}": v for p, m in metrics.items() for k, v in m["by_distortion"].items()}


def describe(metrics: dict) -> str:
    """One log line: each protocol's top-1 and its hardest distortion."""
    parts = []
    for p, m in metrics.items():
        worst = min(m["by_distortion"].items(), key=lambda kv: kv[1], default=None)
        parts.append(f"{p} top-1 {m['top1']:.3f}" + (f" (worst: {worst[0]} {worst[1]:.3f})" if worst else ""))
    return "  ".join(parts) or "(no validation set)"


class Validate(Callback):
    """Protocols A and B for the starting weights and every epoch.

    With held-out training identities (``trainer.holdout_set``, TrainConfig ``holdout``),
    they are scored into ``trainer.metrics`` (history ``holdout_A_top1``, ...), which choose
    the best epoch; the validation set is then scored into ``trainer.val_metrics`` (history
    ``val_A_top1``, ...) and only reported. Without a holdout, the validation set's scores
    are ``trainer.metrics`` (history ``A_top1``, ...) and choose, as before."""

    def score(self, trainer) -> dict:
        held, val = getattr(trainer, "holdout_set", None), trainer.val_set
        if held is not None:
            trainer.metrics = protocols(trainer.embed(held, "holdout"), held)
            trainer.val_metrics = protocols(trainer.embed(val, "val"), val) if val is not None else {}
        else:
            trainer.metrics = protocols(trainer.embed(val, "val"), val) if val is not None else {}
        return trainer.metrics

    def fields(self, trainer) -> dict:
        if getattr(trainer, "holdout_set", None) is not None:
            return brief(trainer.metrics, "holdout_") | brief(trainer.val_metrics, "val_")
        return brief(trainer.metrics)

    def line(self, trainer) -> str:
        if getattr(trainer, "holdout_set", None) is not None:
            out = f"holdout: {describe(trainer.metrics)}"
            if trainer.val_set is not None:
                out += f"  | val (reported, not used): {describe(trainer.val_metrics)}"
            return out
        return describe(trainer.metrics)

    def on_start(self, trainer) -> None:
        self.score(trainer)
        trainer.history.append({"epoch": 0, **self.fields(trainer)})
        log.info("epoch 0 (start): %s", self.line(trainer))

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.score(trainer)
        record.update(self.fields(trainer))
        log.info("epoch %d: loss %.3f  %s", record["epoch"], record["loss"], self.line(trainer))


class KeepBest(Callback):
    """``best.pt`` by protocol B top-1, then A, of ``trainer.metrics`` (the held-out
    training identities when there are some, else the validation set; by lowest loss
    without either); asks the trainer to stop after ``patience`` epochs without a new best.
    The starting weights' score is the first best to beat. Reported-only val scores
    (``trainer.val_metrics``) are stored with the best, never compared."""

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
            trainer.best = {"key": list(key), "epoch": trainer.epoch, "metrics": metrics,
                            "selected_on": getattr(trainer, "selected_on", "val" if metrics else "loss")}
            if getattr(trainer, "val_metrics", None):
                trainer.best["val_metrics"] = trainer.val_metrics
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
