import json

import numpy as np
import pytest

from training.augment import DISTORTIONS, augment
from training.data import load_crops
from facesearch.evaluation.protocols import protocols
from training.trainer import TrainConfig, Trainer
from tests.conftest import person_image


@pytest.mark.parametrize("name", sorted(DISTORTIONS))
def test_distortions_keep_shape_and_range(name):
    img = np.asarray(person_image(3, size=48))
    out = DISTORTIONS[name](img, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)


def test_augment_is_reproducible():
    img = np.asarray(person_image(1, size=32))
    a = augment(img, np.random.default_rng(5))
    b = augment(img, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == img.shape


@pytest.fixture
def train_dir(tmp_path):
    root = tmp_path / "train"
    for i in range(6):
        (root / f"p{i}" / "distortion").mkdir(parents=True)
        for j in range(2):
            person_image(i, noise=5, rng_seed=j).save(root / f"p{i}" / f"p{i}_000{j + 1}.png")
            person_image(i, noise=30, rng_seed=10 + j).save(root / f"p{i}" / "distortion" / f"p{i}_000{j + 1}_noisy.png")
    return root


def test_crops_are_cached_and_labelled(train_dir, tmp_path):
    cs = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    assert cs.crops.shape == (24, 32, 32, 3) and len(cs.names) == 6
    assert cs.kinds.count("noisy") == 12 and cs.source[2] == "p0/p0_0001" and cs.kinds[2] == "noisy"
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    again = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    assert np.array_equal(again.crops, cs.crops)


def test_protocols_on_perfect_embeddings(train_dir, tmp_path):
    cs = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    emb = np.eye(6, dtype=np.float32)[cs.labels]
    m = protocols(emb, cs)
    assert m["A"]["top1"] == 1.0 and m["B"]["top1"] == 1.0
    assert m["B"]["queries"] == 6  # distorted copies of each person's second photo


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
