"""ArcFace fine-tuning of a facesearch encoder. Validation, checkpoints and early stopping
are callbacks (:mod:`.callbacks`); the LR schedule is a torch scheduler (:func:`warmup_cosine`).

On CPU the useful recipe is a partly frozen backbone: with ``freeze`` naming the last
frozen stage of a model that exposes ``stages()`` (MobileFaceNet), the frozen trunk runs
once over every crop (and its mirror) and only the upper stages train, on cached features.
Without ``stages()``, frozen parameters are simply excluded and pixels are augmented on
the fly (``augment=True``).

Model selection: with ``holdout`` > 0 a fraction of the *training* identities (chosen by
``seed``) is held out of training, and protocols A/B on them choose the best epoch and
early stopping; the validation set (``val_dir``) is then only scored and reported
(``val_*`` in the history), never used for a choice. With ``holdout`` 0 the validation set
chooses, as before.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from tqdm import tqdm

from facesearch.encoders import load_net
from facesearch.encoders.torch_net import flip_embed, to_model_input
from facesearch.encoders.checkpoint import read_checkpoint, save_checkpoint
from facesearch.errors import EncoderError

from . import distributed as dist
from .augment import augment as augment_crop
from .callbacks import Callback, KeepBest, SaveLast, Validate
from .data import CropSet, load_crops, split_holdout
from .config import TrainConfig
from .losses import MarginHead

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_at(net: nn.Module, freeze: str | None) -> tuple[nn.Module | None, nn.Module]:
    """(frozen trunk, trainable rest) for nets with ``stages()``; (None, net) otherwise."""
    if not freeze or not hasattr(net, "stages"):
        return None, net
    names = [n for n, _ in net.stages()]
    if freeze not in names:
        raise EncoderError(f"--freeze must be one of {', '.join(names)}")
    cut = names.index(freeze) + 1
    mods = [m for _, m in net.stages()]
    return nn.Sequential(*mods[:cut]), nn.Sequential(*mods[cut:])


def freeze_prefix(net: nn.Module, freeze: str | None) -> None:
    """Generic freezing: every parameter up to and including module ``freeze``."""
    if not freeze:
        return
    names = [n for n, _ in net.named_parameters()]
    hits = [i for i, n in enumerate(names) if n.startswith(freeze + ".")]
    if not hits:
        raise EncoderError(f"no parameters under {freeze!r}")
    for i, (_, p) in enumerate(net.named_parameters()):
        p.requires_grad_(i > hits[-1])


def warmup_cosine(opt: torch.optim.Optimizer, lr: float, warmup_steps: int, total_steps: int,
                  start_step: int = 0) -> SequentialLR:
    """Linear warm-up from lr / warmup_steps to ``lr`` over ``warmup_steps`` steps, then a
    cosine decay to 0 at ``total_steps``; stepped once per batch. ``start_step``: the
    schedule is advanced that far (a resumed run, possibly with a new ``total_steps``)."""
    for group in opt.param_groups:  # the schedulers start from here, whatever a loaded state said
        group["lr"] = group["initial_lr"] = lr
    warm = max(1, warmup_steps)
    sched = SequentialLR(opt, [LinearLR(opt, start_factor=1 / warm, total_iters=max(1, warm - 1)),
                               CosineAnnealingLR(opt, T_max=max(1, total_steps - warm))], milestones=[warm])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": intended here
        for _ in range(start_step):
            sched.step()
    return sched


class Trainer:
    def __init__(self, cfg: TrainConfig, callbacks: list[Callback] | None = None):
        self.cfg = cfg
        seed_everything(cfg.seed)
        self.world = dist.from_env()  # torchrun's processes; one without it
        self.rank_batch = cfg.batch_size // self.world.size  # --batch-size is the global batch
        if self.rank_batch < 2:
            raise EncoderError(f"--batch-size {cfg.batch_size} leaves under 2 photos for each of "
                               f"{self.world.size} processes")
        self.device = dist.start(self.world, cfg.device)
        self.net = load_net(cfg.encoder, cfg.weights).to(self.device)
        if self.device.type == "cuda":
            self.net.to(memory_format=torch.channels_last)
        self.trunk, self.upper = split_at(self.net, cfg.freeze)
        if self.trunk is None:
            freeze_prefix(self.net, cfg.freeze)
        size = self.net.preprocess.size
        cache = Path(cfg.cache_dir) if cfg.cache_dir else None
        kw = {"cache_dir": cache} if cache else {}
        with dist.main_first(self.world):  # rank 0 fills the crop cache, the others read it
            self.train_set = load_crops(cfg.train_dir, size, cfg.detector, **kw)
            validates = cfg.val_dir and self.world.main
            self.val_set = load_crops(cfg.val_dir, size, cfg.detector, **kw) if validates else None
        self.holdout_set: CropSet | None = None  # held-out training identities: they choose the best epoch
        if cfg.holdout:
            self.train_set, self.holdout_set = split_holdout(self.train_set, cfg.holdout, cfg.seed)
            log.info("holdout: %d of %d training identities (%d photos) held out to choose the best epoch",
                     len(self.holdout_set.names), len(self.train_set.names) + len(self.holdout_set.names),
                     len(self.holdout_set.labels))
        self.head = MarginHead(self.net.embedding_dim, len(self.train_set.names), cfg.scale, cfg.margin,
                               cfg.margin_kind).to(self.device)
        params = [p for p in self.net.parameters() if p.requires_grad] + list(self.head.parameters())
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
        else:
            self.opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.steps_per_epoch = self.steps_in_epoch()
        self.scheduler = self.lr_schedule()
        self.epoch, self.step, self.best, self.bad_epochs = 0, 0, None, 0
        self.history: list[dict] = []
        self.should_stop = False
        self.metrics: dict = {}  # the latest scores that choose (holdout, else val; set by Validate)
        self.val_metrics: dict = {}  # with a holdout: the latest val scores, reported only
        self._feats: dict[str, torch.Tensor] = {}
        self.model, self.train_head = self.upper if self.trunk is not None else self.net, self.head  # DDP in fit
        out = Path(cfg.out)
        self.callbacks = callbacks if callbacks is not None else [
            Validate(), KeepBest(out / "best.pt", cfg.patience), SaveLast(out / "last.pt")]

    # -- inputs ----------------------------------------------------------------------------
    def to_input(self, crops: np.ndarray) -> torch.Tensor:
        return to_model_input(crops, self.net.preprocess, self.device)

    @torch.inference_mode()
    def trunk_features(self, crops: np.ndarray, key: str) -> torch.Tensor:
        """Frozen-trunk outputs of crops and their mirrors, computed once: (2, N, ...)."""
        if key not in self._feats:
            self.trunk.eval()
            outs = [[], []]
            for i in tqdm(range(0, len(crops), 256), desc=f"trunk {key}", leave=False, disable=self.quiet):
                x = self.to_input(crops[i:i + 256])
                outs[0].append(self.trunk(x).half().cpu())
                outs[1].append(self.trunk(torch.flip(x, dims=[3])).half().cpu())
            self._feats[key] = torch.stack([torch.cat(o) for o in outs])
        return self._feats[key]

    def batch_indices(self, rng: np.random.Generator):
        """Shuffled batches of crop indices. With ``pair_weight``, half of each batch is
        distorted crops and the other half a clean photo each was made from."""
        ts, bs = self.train_set, self.rank_batch
        if not self.cfg.pair_weight:
            order = self.epoch_order(np.arange(len(ts.labels)), rng)
            yield from (order[i:i + bs] for i in range(0, len(order), bs))
            return
        clean_of: dict[str, list[int]] = {}
        for i, kind in enumerate(ts.kinds):
            if kind == "clean":
                clean_of.setdefault(ts.source[i], []).append(i)
        distorted = np.array([i for i, k in enumerate(ts.kinds) if k != "clean" and ts.source[i] in clean_of])
        order = self.epoch_order(distorted, rng)
        for i in range(0, len(order), bs // 2):
            d = order[i:i + bs // 2]
            yield np.concatenate([d, [rng.choice(clean_of[ts.source[j]]) for j in d]])

    def epoch_order(self, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The epoch's shuffled ``items``; with several processes, this process's share."""
        if not self.world.active:
            return rng.permutation(items)
        return dist.shard(items, self.world, self.cfg.seed, self.epoch)

    def steps_in_epoch(self) -> int:
        ts = self.train_set
        if not self.world.active:
            n = 2 * sum(k != "clean" for k in ts.kinds) if self.cfg.pair_weight else len(ts.labels)
            return math.ceil(n / self.cfg.batch_size)
        if not self.cfg.pair_weight:
            return math.ceil(dist.share(len(ts.labels), self.world) / self.rank_batch)
        clean = {s for s, k in zip(ts.source, ts.kinds) if k == "clean"}
        distorted = sum(k != "clean" and s in clean for s, k in zip(ts.source, ts.kinds))
        return math.ceil(dist.share(distorted, self.world) / (self.rank_batch // 2))

    def batches(self, rng: np.random.Generator):
        for idx in self.batch_indices(rng):
            labels = torch.from_numpy(self.train_set.labels[idx]).to(self.device)
            flips = rng.random(len(idx)) < 0.5
            if self.trunk is not None:
                feats = self.trunk_features(self.train_set.crops, "train")
                x = torch.where(torch.from_numpy(flips).view(-1, 1, 1, 1), feats[1, idx], feats[0, idx])
                yield x.to(self.device).float(), labels
            else:
                crops = self.train_set.crops[idx]
                if self.cfg.augment:  # crops are aligned faces: distortions framed as on the photo
                    crops = np.stack([augment_crop(c, rng, frame="crop") for c in crops])
                else:
                    crops = np.stack([c[:, ::-1] if f else c for c, f in zip(crops, flips)])
                yield self.to_input(crops), labels

    def loss(self, emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """ArcFace cross-entropy, plus (``pair_weight``) an InfoNCE term pulling each
        distorted crop to its clean source against the other clean crops of the batch."""
        logits = self.train_head(emb, y).float()
        loss = F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)
        if self.cfg.pair_weight:
            h = len(y) // 2
            z = F.normalize(emb, dim=1)
            sim = z[:h] @ z[h:2 * h].T / self.cfg.pair_temperature
            same_person = (y[:h, None] == y[None, h:2 * h]) & ~torch.eye(h, dtype=torch.bool, device=y.device)
            sim = sim.masked_fill(same_person, float("-inf"))  # other photos of the person are not negatives
            loss = loss + self.cfg.pair_weight * F.cross_entropy(sim, torch.arange(h, device=y.device))
        return loss

    # -- embedding -------------------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, cs: CropSet, key: str) -> np.ndarray:
        """Flip-averaged, L2-normalised embeddings, as the Encoder computes them."""
        self.net.eval()
        out = []
        if self.trunk is not None:
            feats = self.trunk_features(cs.crops, key)
            for i in range(0, feats.shape[1], 512):
                x, mirrored = (feats[j, i:i + 512].to(self.device).float() for j in (0, 1))
                out.append(flip_embed(self.upper, x, mirrored).cpu())
        else:
            for i in range(0, len(cs.crops), 256):
                x = self.to_input(cs.crops[i:i + 256])
                out.append(flip_embed(self.net, x, torch.flip(x, dims=[3])).cpu())
        return torch.cat(out).numpy()

    def init_head_from_prototypes(self) -> None:
        emb = torch.from_numpy(self.embed(self.train_set, "train"))
        labels = torch.from_numpy(self.train_set.labels)
        protos = torch.zeros(len(self.train_set.names), emb.shape[1]).index_add_(0, labels, emb)
        self.head.init_from_prototypes(protos.to(self.device))

    def train_mode(self) -> None:
        self.net.train()
        if self.trunk is not None:
            self.trunk.eval()
        else:  # frozen BatchNorms keep their statistics
            for m in self.net.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(
                        p.requires_grad for p in m.parameters()):
                    m.eval()

    def lr_schedule(self, start_step: int = 0) -> SequentialLR:
        return warmup_cosine(self.opt, self.cfg.lr, int(self.cfg.warmup_epochs * self.steps_per_epoch),
                             self.cfg.epochs * self.steps_per_epoch, start_step)

    @property
    def quiet(self) -> bool | None:
        """tqdm's ``disable``: bars on a terminal, and only on rank 0."""
        return None if self.world.main else True

    def fit(self) -> dict:
        """Train until ``epochs`` or until a callback asks to stop; returns best and history.
        With several processes only rank 0 runs the callbacks; the others get its decisions."""
        callbacks = self.callbacks if self.world.main else []
        if self.world.main:
            Path(self.cfg.out).mkdir(parents=True, exist_ok=True)
        if self.epoch == 0 and self.best is None:
            if self.world.main:  # DDP copies rank 0's head to the others below
                self.init_head_from_prototypes()
            for cb in callbacks:
                cb.on_start(self)
        self.model = dist.wrap(self.upper if self.trunk is not None else self.net, self.world, self.device)
        self.train_head = dist.wrap(self.head, self.world, self.device)
        while self.epoch < self.cfg.epochs and not self.should_stop:
            record = {"epoch": self.epoch + 1, **self.train_epoch()}
            self.epoch += 1
            self.history.append(record)
            for cb in callbacks:
                cb.on_epoch_end(self, record)
            self.best, self.bad_epochs, self.should_stop = dist.from_main(
                self.world, self.best, self.bad_epochs, self.should_stop)
        for cb in callbacks:
            cb.on_end(self)
        return {"best": self.best, "history": self.history}

    def train_epoch(self) -> dict:
        cfg = self.cfg
        # flips and distortions: each process its own stream (one process: as before)
        rng = np.random.default_rng([cfg.seed + self.epoch, self.world.rank] if self.world.active
                                    else cfg.seed + self.epoch)
        amp = self.device.type == "cuda"
        self.train_mode()
        bar = tqdm(self.batches(rng), total=self.steps_per_epoch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                   unit="batch", disable=self.quiet)
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        for x, y in bar:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
                emb = self.model(x).float()
            loss = self.loss(emb, y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_([p for g in self.opt.param_groups for p in g["params"]], cfg.clip_grad)
            self.opt.step()
            self.scheduler.step()
            self.step += 1
            seen += len(y)
            loss_sum += loss.item() * len(y)
            bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        seen, loss_sum = dist.total(self.world, seen, loss_sum)  # over all processes
        return {"loss": loss_sum / max(seen, 1), "images_per_s": seen / max(time.perf_counter() - t0, 1e-9)}

    @property
    def selected_on(self) -> str:
        """What chooses the best epoch: "holdout", "val" or (neither) "loss"."""
        return "holdout" if self.holdout_set is not None else "val" if self.val_set is not None else "loss"

    def save(self, path: Path, metrics: dict, full: bool = True) -> None:
        """A checkpoint of the network; ``full`` adds what :meth:`resume` needs. ``metrics``
        are the scores that choose (see :attr:`selected_on`); with a holdout the val scores,
        reported only, are ``val_metrics``."""
        state = dict(head=self.head.state_dict(), optimizer=self.opt.state_dict(), step=self.step, best=self.best,
                     bad_epochs=self.bad_epochs, history=self.history) if full else {}
        if self.holdout_set is not None:
            state.update(val_metrics=self.val_metrics, holdout_names=list(self.holdout_set.names))
        save_checkpoint(path, self.net, train_args=dataclasses.asdict(self.cfg), metrics=metrics,
                        selected_on=self.selected_on, epoch=self.epoch, **state)

    @classmethod
    def resume(cls, path: str | Path, **overrides) -> "Trainer":
        ckpt = read_checkpoint(path)
        if "optimizer" not in ckpt:
            raise EncoderError(f"{path} has no training state (use last.pt to resume)")
        args = {k: v for k, v in ckpt["train_args"].items() if k != "extra"}  # `extra`: older checkpoints
        cfg = TrainConfig(**{**args, **overrides})
        cfg.weights = None
        self = cls(cfg)
        held = list(self.holdout_set.names) if self.holdout_set is not None else None
        if held != ckpt.get("holdout_names"):  # the head's classes are the identities trained on
            raise EncoderError(f"{path}: the held-out identities differ from the checkpoint's (training data "
                               "or --holdout changed); resume needs the same split")
        self.net.load_state_dict(ckpt["model"])
        self.head.load_state_dict(ckpt["head"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.epoch, self.step, self.best = ckpt["epoch"], ckpt["step"], ckpt["best"]
        self.bad_epochs, self.history = ckpt["bad_epochs"], ckpt["history"]
        self.should_stop = self.bad_epochs >= cfg.patience
        self.scheduler = self.lr_schedule(start_step=self.step)  # --epochs may have changed the schedule
        return self
