"""training.gpu_recipe on the CPU: a few steps of every recipe on a tiny synthetic pack."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facesearch.config import SFACE_GRAPH
from facesearch.encoders.mobilefacenet import MobileFaceNet
from training import gpu_recipe
from training.data import CropSet
from training.sface import SFaceNet

SFACE = SFACE_GRAPH  # shipped in the package (facesearch/weights)


def test_split_is_fixed_disjoint_and_complete():
    names = [f"id{i:03d}" for i in range(100)]
    split = gpu_recipe.split_names(names)
    assert split == gpu_recipe.split_names(list(reversed(names)))
    assert [len(split[k]) for k in ("fit", "select", "check")] == [70, 15, 15]
    assert sorted(sum(split.values(), [])) == names


def test_fusion_is_the_weighted_mean_of_member_cosines():
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(5, 8)).astype(np.float32) for _ in range(2))
    unit = lambda e: e / np.linalg.norm(e, axis=1, keepdims=True)  # noqa: E731
    fused = gpu_recipe.fuse([a, b], [np.eye(8, dtype=np.float32)] * 2, [0.3, 0.7])
    expect = 0.3 * unit(a) @ unit(a).T + 0.7 * unit(b) @ unit(b).T
    assert np.allclose(fused @ fused.T, expect, atol=1e-5)


def synthetic_pack(folder: Path, people: int = 20) -> None:
    rng = np.random.default_rng(0)
    crops, labels, kinds, source, paths = [], [], [], [], []
    for p in range(people):
        base = rng.integers(0, 255, (112, 112, 3))
        for j, kind in enumerate(["clean", "clean", "noisy", "blurred"]):
            crops.append(np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8))
            labels.append(p), kinds.append(kind), source.append(f"id{p}/{j % 2}"), paths.append(f"id{p}/{j}.jpg")
    cs = CropSet(np.stack(crops), np.array(labels), [f"id{p}" for p in range(people)], paths, kinds, source,
                 np.ones(len(crops), bool))
    gpu_recipe.pack_crops(cs, folder)


@pytest.mark.skipif(not SFACE.exists(), reason=f"{SFACE} is absent (shared weights)")
@pytest.mark.slow  # training epochs of two networks
def test_run_trains_chooses_fuses_and_writes_everything(tmp_path):
    synthetic_pack(tmp_path / "pack")
    mfn = tmp_path / "mfn.pt"
    torch.save(MobileFaceNet().state_dict(), mfn)
    out = tmp_path / "out"
    gpu_recipe.run(str(tmp_path / "pack"), str(out), minutes=0.5, weights={"mobilefacenet": str(mfn), "sface": str(SFACE)},
                   recipes=list(gpu_recipe.RECIPES), batch=8, workers=0, max_steps=2,
                   eval_every=1e9)  # one round, however slow the machine
    report = json.loads((out / "report.json").read_text())
    assert set(report["chosen"]) == {"mobilefacenet", "sface"}
    assert set(report["check"]) == {"mobilefacenet", "sface", "fused"}
    assert all(len(r["history"]) == 2 for r in report["runs"].values())  # zero-shot + one round
    for name in ("mobilefacenet.pt", "sface_features.pt", "sface_fc.pt", "fusion.npz", "log.txt"):
        assert (out / name).stat().st_size < 16 * 2**20  # what the device tool brings back
    sface = SFaceNet()
    sface.load_state_dict({**torch.load(out / "sface_features.pt"), **torch.load(out / "sface_fc.pt")})
