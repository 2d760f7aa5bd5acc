import os
import shutil

import numpy as np

from facesearch.evaluation.protocols import protocols
from training.data import load_crops


def test_crops_are_cached_and_labelled(train_dir, tmp_path):
    cs = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    assert cs.crops.shape == (24, 32, 32, 3) and len(cs.names) == 6
    assert cs.kinds.count("noisy") == 12 and cs.source[2] == "p0/p0_0001" and cs.kinds[2] == "noisy"
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    again = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    assert np.array_equal(again.crops, cs.crops)


def test_crop_cache_is_keyed_by_content(train_dir, tmp_path):
    cache = tmp_path / "cache"
    load_crops(train_dir, 32, "none", cache_dir=cache)
    copy = shutil.copytree(train_dir, tmp_path / "fresh-copy")  # another path, new modification times
    photos = sorted(p for p in copy.rglob("*") if p.is_file())
    for p in photos:
        os.utime(p, (1, 1))
    load_crops(copy, 32, "none", cache_dir=cache)
    assert len(list(cache.glob("*.npy"))) == 1  # the copy hit the cache
    photos[0].write_bytes(photos[1].read_bytes())  # changed bytes: aligned again
    load_crops(copy, 32, "none", cache_dir=cache)
    assert len(list(cache.glob("*.npy"))) == 2


def test_protocols_on_perfect_embeddings(train_dir, tmp_path):
    cs = load_crops(train_dir, 32, "none", cache_dir=tmp_path / "cache")
    emb = np.eye(6, dtype=np.float32)[cs.labels]
    m = protocols(emb, cs)
    assert m["A"]["top1"] == 1.0 and m["B"]["top1"] == 1.0
    assert m["B"]["queries"] == 6  # distorted copies of each person's second photo
