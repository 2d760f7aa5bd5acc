"""The recipe of an identity training run, with its defaults: read by the trainer and by
``facesearch train`` (whose options default to these fields). No torch here: the command
is listed by ``facesearch --help`` without loading it."""
from __future__ import annotations

from dataclasses import dataclass

GENDER_OUT = "runs/gender"  # `train --task gender`'s folder when --out is not given


@dataclass
class TrainConfig:
    train_dir: str
    val_dir: str | None = None
    out: str = "runs/train"
    encoder: str = "mobilefacenet"
    weights: str | None = None
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 5e-4
    optimizer: str = "adamw"
    warmup_epochs: float = 0.5
    margin: float = 0.3
    scale: float = 32.0
    margin_kind: str = "arcface"
    label_smoothing: float = 0.1
    clip_grad: float = 5.0
    freeze: str | None = None       # last frozen stage, e.g. "features.5"
    augment: bool = False           # on-the-fly pixel distortions (not with cached features)
    pair_weight: float = 0.0        # > 0: add the distorted-to-clean InfoNCE term (stage 2)
    pair_temperature: float = 0.05
    patience: int = 4
    holdout: float = 0.0            # > 0: this fraction of training identities chooses the best epoch
    seed: int = 0
    detector: str = "mtcnn"
    cache_dir: str | None = None
    device: str | None = None
