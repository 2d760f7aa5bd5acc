import json

import numpy as np
import pytest

from training.trainer import TrainConfig, Trainer


@pytest.mark.slow  # training epochs
def test_tiny_training_run_lowers_loss_and_checkpoints_roundtrip(train_dir, tmp_path):
    from facesearch.encoders import create_encoder

    cfg = TrainConfig(train_dir=str(train_dir), val_dir=str(train_dir), out=str(tmp_path / "run"),
                      encoder="fake", epochs=4, batch_size=8, lr=0.05, detector="none",
                      cache_dir=str(tmp_path / "cache"), augment=True, patience=10, warmup_epochs=0)
    result = Trainer(cfg).fit()
    hist = result["history"]
    assert hist[-1]["loss"] < hist[1]["loss"]
    best = tmp_path / "run" / "best.pt"
    enc = create_encoder(str(best))
    assert enc.embed(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 16)
    assert json.loads((tmp_path / "run" / "history.json").read_text())[-1]["epoch"] == 4
    resumed = Trainer.resume(tmp_path / "run" / "last.pt", epochs=5)
    assert resumed.epoch == 4
    resumed.fit()
    assert resumed.epoch == 5


def test_pair_batches_put_each_distorted_crop_next_to_its_clean_source(train_dir, tmp_path):
    cfg = TrainConfig(train_dir=str(train_dir), encoder="fake", batch_size=8, detector="none",
                      cache_dir=str(tmp_path / "cache"), pair_weight=0.5, epochs=1, out=str(tmp_path / "run"))
    t = Trainer(cfg)
    ts = t.train_set
    batches = list(t.batch_indices(np.random.default_rng(0)))
    assert sum(len(b) for b in batches) == 2 * 12 and t.steps_per_epoch == 3
    for b in batches:
        h = len(b) // 2
        for d, c in zip(b[:h], b[h:]):
            assert ts.kinds[d] != "clean" and ts.kinds[c] == "clean" and ts.source[d] == ts.source[c]
    hist = t.fit()["history"]
    assert np.isfinite(hist[-1]["loss"])


def test_warmup_cosine_is_the_closed_form_schedule_and_resumes_with_new_epochs():
    import math

    import torch

    from training.trainer import warmup_cosine

    def closed_form(step, lr, warm, total):
        if step < warm:
            return lr * (step + 1) / warm
        return lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    for lr, warm, total in [(1e-3, 5, 40), (0.05, 0, 12), (5e-4, 7, 56), (1e-3, 1, 3)]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        sched = warmup_cosine(opt, lr, warm, total)
        for step in range(total):
            assert opt.param_groups[0]["lr"] == pytest.approx(closed_form(step, lr, max(1, warm), total), abs=1e-12)
            opt.step()
            sched.step()
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=99.0)  # a loaded state's lr
        warmup_cosine(opt, lr, warm, total + 10, start_step=total // 2)
        assert opt.param_groups[0]["lr"] == pytest.approx(closed_form(total // 2, lr, max(1, warm), total + 10))
