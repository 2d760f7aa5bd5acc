"""Two CPU processes under torchrun (gloo): the real `-m facesearch.training` command."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facesearch.errors import EncoderError
from training import distributed
from training.trainer import TrainConfig, Trainer


def test_shards_are_disjoint_equal_and_reshuffled_each_epoch():
    items = np.arange(100, 124)
    worlds = [distributed.World(rank, 2) for rank in (0, 1)]
    first = [distributed.shard(items, w, seed=0, epoch=0) for w in worlds]
    assert len(first[0]) == len(first[1]) == distributed.share(24, worlds[0]) == 12
    assert sorted(np.concatenate(first)) == list(items)
    assert not np.array_equal(distributed.shard(items, worlds[0], seed=0, epoch=1), first[0])
    odd = [distributed.shard(items[:5], w, seed=0, epoch=0) for w in worlds]
    assert len(odd[0]) == len(odd[1]) == 3 and set(np.concatenate(odd)) == set(items[:5])  # padded by a repeat


def test_a_global_batch_too_small_to_split_is_refused(train_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    cfg = TrainConfig(train_dir=str(train_dir), encoder="fake", batch_size=6, detector="none", out=str(tmp_path))
    with pytest.raises(EncoderError, match="under 2 photos for each of 4 processes"):
        Trainer(cfg)


REPO = Path(__file__).resolve().parents[2]


def torchrun(*args, cwd, cache):
    env = {**os.environ, "FACESEARCH_PLUGINS": "tests.fake_encoder", "FACESEARCH_CACHE": str(cache),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}  # tests.fake_encoder
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "facesearch.training", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow  # torchrun: two processes, two epochs
def test_two_processes_train_checkpoint_once_and_resume(train_dir, tmp_path):
    out = tmp_path / "run"
    r = torchrun(str(train_dir), "--val", str(train_dir), "--encoder", "fake", "--epochs", "2", "--batch-size", "8",
                 "--lr", "0.05", "--out", str(out), cwd=tmp_path, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("best epoch") == 1  # rank 0 reports, rank 1 stays quiet
    assert r.stderr.count("epoch 2: loss") == 1
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2] and all(np.isfinite(h["loss"]) for h in history[1:])
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "history.json", "last.pt"]

    r = torchrun("--resume", str(out / "last.pt"), "--epochs", "3", cwd=tmp_path, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr[-3000:]
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
