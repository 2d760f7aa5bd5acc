"""Training on several processes (``torchrun``): PyTorch DistributedDataParallel.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; with a world of one (plain
``python``, or ``torchrun --nproc-per-node 1``) nothing here does anything and training is
the single-process loop unchanged. With more, every process holds the whole crop set, takes
its share of each epoch's shuffled photos from a :class:`DistributedSampler`, and DDP
averages the gradients; gloo on CPU, NCCL on GPUs (one GPU per process, ``LOCAL_RANK``).
Only rank 0 validates and writes checkpoints, the history and log lines; its decisions
(best epoch, early stop) are broadcast to the others.
"""
from __future__ import annotations

import gc
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as td
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that validates, logs and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def from_env() -> World:
    """The world torchrun describes in the environment (one process without it)."""
    env = os.environ
    return World(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def start(world: World, device: str | None) -> torch.device:
    """Join the process group (once) and return this process's device."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if not world.active:
        return dev
    if dev.type == "cuda":
        dev = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(dev)
    if not td.is_initialized():
        td.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if not world.main:  # one voice: rank 0 logs
        logging.getLogger("training").setLevel(logging.WARNING)
    return dev


def stop(finished: bool = True) -> None:
    """Leave the process group and end its threads while Python is still up. Gloo's worker
    thread frees each finished collective's tensors, which needs the GIL; when that happened
    during interpreter shutdown the process aborted (``terminate called``, SIGABRT, about one
    run in ten under load). So: wait for every rank (``finished``: all got to the end),
    destroy the group, and collect it (the caller drops its DDP model first), which joins
    those threads now. After a failure there is no barrier: other ranks may never reach it."""
    if td.is_available() and td.is_initialized():
        if finished:
            td.barrier()
        td.destroy_process_group()
        gc.collect()


@contextmanager
def main_first(world: World):
    """Rank 0 runs the block first (e.g. fills the crop cache), then the others (read it)."""
    if world.active and not world.main:
        td.barrier()
    yield
    if world.active and world.main:
        td.barrier()


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``module`` itself, or in DDP (which broadcasts rank 0's parameters now)."""
    if not world.active:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def shard(items: np.ndarray, world: World, seed: int, epoch: int) -> np.ndarray:
    """This process's share of ``items`` for ``epoch``: shuffled by (seed, epoch), the same
    permutation on every rank, cut into disjoint, equal shares (padded by repeats)."""
    sampler = DistributedSampler(items, num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return np.asarray(items)[list(sampler)]


def share(n: int, world: World) -> int:
    """How many of ``n`` items :func:`shard` gives each process."""
    return -(-n // world.size)


def from_main(world: World, *values):
    """``values`` as rank 0 has them, on every rank."""
    if not world.active:
        return values
    box = list(values)
    td.broadcast_object_list(box, src=0)
    return tuple(box)


def total(world: World, *numbers: float) -> list[float]:
    """Sums of ``numbers`` over all processes."""
    if not world.active:
        return list(numbers)
    t = torch.tensor(numbers, dtype=torch.float64)
    if td.get_backend() == "nccl":
        t = t.cuda()
    td.all_reduce(t)
    return t.tolist()
