"""Model selection on held-out *training* identities (TrainConfig.holdout): they choose the
best epoch and early stopping; the validation set is scored and reported, never used."""
import json

import numpy as np
import pytest
import torch

from facesearch.encoders.checkpoint import read_checkpoint
from training import callbacks
from training.data import holdout_names, load_crops, split_holdout
from training.trainer import TrainConfig, Trainer


def config(train_dir, tmp_path, **kw):
    base = dict(train_dir=str(train_dir), val_dir=str(train_dir), out=str(tmp_path / "run"), encoder="fake",
                batch_size=8, lr=0.05, detector="none", cache_dir=str(tmp_path / "cache"), warmup_epochs=0,
                holdout=0.34, patience=10, epochs=2)
    return TrainConfig(**{**base, **kw})


def test_holdout_split_is_deterministic_and_relabelled(train_dir, tmp_path):
    cs = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    held = holdout_names(cs.names, 0.34, seed=0)
    assert held == holdout_names(list(reversed(cs.names)), 0.34, seed=0) and len(held) == 2
    assert holdout_names(cs.names, 0.34, seed=1) != held or holdout_names(cs.names, 0.34, seed=2) != held
    train, hold = split_holdout(cs, 0.34, seed=0)
    assert hold.names == held and not set(train.names) & set(held)
    assert len(train.labels) + len(hold.labels) == len(cs.labels)
    for part in (train, hold):
        assert sorted(set(part.labels.tolist())) == list(range(len(part.names)))
        for label, path in zip(part.labels, part.paths):
            assert f"/{part.names[label]}/" in path  # labels still point at the right people
    with pytest.raises(ValueError):
        holdout_names(cs.names, 1.5, seed=0)


def test_holdout_chooses_the_best_epoch_and_val_is_only_reported(train_dir, tmp_path, monkeypatch):
    """Scripted scores: the held-out identities peak at epoch 2, the val set at epoch 3.
    best.pt must be epoch 2, and val's scores must be recorded under val_* keys."""
    holdout_b = [0.50, 0.60, 0.90, 0.70, 0.80]   # by epoch 0..4
    val_b = [0.50, 0.40, 0.10, 0.99, 0.20]
    seen = []

    def scripted(emb, crops):
        held = len(crops.names) < 6  # the fixture has 6 people; the holdout 2, val all 6
        epoch = sum(1 for s in seen if s == held)
        seen.append(held)
        b = (holdout_b if held else val_b)[epoch]
        return {"A": {"top1": 0.5, "by_distortion": {"noisy": 0.5}}, "B": {"top1": b, "by_distortion": {"noisy": b}}}

    monkeypatch.setattr(callbacks, "protocols", scripted)
    t = Trainer(config(train_dir, tmp_path, epochs=4))
    assert len(t.holdout_set.names) == 2 and len(t.train_set.names) == 4
    assert t.head.weight.shape[0] == 4  # the margin head only has the identities trained on
    result = t.fit()
    assert result["best"]["epoch"] == 2 and result["best"]["selected_on"] == "holdout"
    assert result["best"]["metrics"]["B"]["top1"] == 0.90
    assert result["best"]["val_metrics"]["B"]["top1"] == 0.10  # recorded, not compared
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["holdout_B_top1"] for h in hist] == holdout_b[:5]
    assert [h["val_B_top1"] for h in hist] == val_b[:5]
    assert not any("B_top1" in h for h in hist)  # no unlabelled score that could be mistaken for val
    best = read_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] == 2 and best["metrics"]["B"]["top1"] == 0.90
    assert best["selected_on"] == "holdout" and best["val_metrics"]["B"]["top1"] == 0.10
    assert best["train_args"]["holdout"] == 0.34


def test_early_stopping_ignores_val(train_dir, tmp_path, monkeypatch):
    """Val improving every epoch does not keep a run alive whose held-out scores do not."""
    counter = {"held": 0, "val": 0}

    def scripted(emb, crops):
        key = "held" if len(crops.names) < 6 else "val"
        counter[key] += 1
        b = 0.5 if key == "held" else 0.1 * counter[key]
        return {"B": {"top1": b, "by_distortion": {}}}

    monkeypatch.setattr(callbacks, "protocols", scripted)
    result = Trainer(config(train_dir, tmp_path, epochs=6, patience=2)).fit()
    assert result["best"]["epoch"] == 0 and len(result["history"]) == 1 + 2


@pytest.mark.slow  # training epochs
def test_holdout_run_trains_scores_and_resumes(train_dir, tmp_path):
    t = Trainer(config(train_dir, tmp_path, augment=True))
    result = t.fit()
    rec = result["history"][-1]
    assert {"holdout_A_top1", "holdout_B_top1", "val_A_top1", "val_B_top1"} <= set(rec)
    assert 0 <= rec["holdout_B_top1"] <= 1
    last = read_checkpoint(tmp_path / "run" / "last.pt")
    assert last["holdout_names"] == t.holdout_set.names and last["head"]["weight"].shape[0] == 4
    resumed = Trainer.resume(tmp_path / "run" / "last.pt", epochs=3)
    assert resumed.holdout_set.names == t.holdout_set.names and resumed.epoch == 2
    assert torch.equal(resumed.head.weight, last["head"]["weight"].to(resumed.head.weight.device))
    resumed.fit()
    assert resumed.epoch == 3 and "val_B_top1" in resumed.history[-1]
    with pytest.raises(Exception, match="held-out identities differ"):
        Trainer.resume(tmp_path / "run" / "last.pt", holdout=0.5)


def test_without_holdout_val_still_chooses(train_dir, tmp_path):
    t = Trainer(config(train_dir, tmp_path, holdout=0.0, epochs=1))
    assert t.holdout_set is None and t.head.weight.shape[0] == 6
    result = t.fit()
    assert result["best"]["selected_on"] == "val" and "A_top1" in result["history"][-1]
    assert not any(k.startswith(("val_", "holdout_")) for k in result["history"][-1])
    assert np.isfinite(result["history"][-1]["loss"])
