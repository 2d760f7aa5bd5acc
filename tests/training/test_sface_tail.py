"""training.sface_tail: SFace's tail fine-tuned from cached activations of its frozen part."""
import json

import numpy as np
import pytest
import torch

from facesearch.config import SFACE_GRAPH
from training import sface_tail
from training.data import CropSet
from training.sface import SFaceNet

SFACE = SFACE_GRAPH  # shipped in the package (facesearch/weights)


def test_prefix_then_tail_is_the_whole_network():
    net = SFaceNet().eval()
    x = torch.rand(2, 3, 112, 112) * 255
    with torch.no_grad():
        a = sface_tail.Prefix(net)(x)
        assert a.shape[1:] == sface_tail.SHAPE
        assert torch.allclose(sface_tail.Tail(net).eval()(a), net(x), atol=1e-5)


@pytest.mark.parametrize("part, trained", [("fc", {"fc", "bn_fc"}), ("conv14", {"fc", "bn_fc", "features", "bn"})])
def test_only_the_chosen_part_trains_and_batchnorm_statistics_stay(part, trained):
    tail = sface_tail.Tail(SFaceNet())
    params = tail.trainable(part)
    assert {n.split(".")[0] for n, p in tail.named_parameters() if p.requires_grad} == trained
    assert len(params) == sum(p.requires_grad for p in tail.parameters())
    tail.train()
    assert tail.dropout.training and not tail.bn.training and not tail.bn_fc.training
    before = tail.bn_fc.running_mean.clone()
    tail(torch.randn(4, *sface_tail.SHAPE))
    assert torch.equal(before, tail.bn_fc.running_mean)


def test_activations_resume_from_the_rows_marked_done(tmp_path):
    acts = sface_tail.Activations(tmp_path, "fit", "plain", 5, "w+")
    acts.array[:2] = 1
    acts.mark(2)
    assert sface_tail.Activations.complete(tmp_path, "fit", "plain", 5) is None  # not finished
    again = sface_tail.Activations(tmp_path, "fit", "plain", 5, "w+")  # reopened, not recreated
    assert again.done == 2 and float(again.array[1].max()) == 1.0
    again.mark(5)
    assert sface_tail.Activations.complete(tmp_path, "fit", "plain", 5) is not None


def synthetic_parts(people: int = 20) -> dict[str, CropSet]:
    rng = np.random.default_rng(0)
    crops, labels, kinds, source = [], [], [], []
    for p in range(people):
        base = rng.integers(0, 255, (112, 112, 3))
        for j, kind in enumerate(["clean", "clean", "noisy", "blurred"]):
            crops.append(np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8))
            labels.append(p), kinds.append(kind), source.append(f"id{p}/{j % 2}")
    names = [f"id{p:02d}" for p in range(people)]
    cs = CropSet(np.stack(crops), np.array(labels), names, [f"{s}.jpg" for s in source], kinds, source,
                 np.ones(len(crops), bool))
    split = sface_tail.split_names(names)
    return {k: cs.identities(split[k]) for k in sface_tail.PARTS}


@pytest.mark.skipif(not SFACE.exists(), reason=f"{SFACE} is absent (shared weights)")
def test_cache_train_and_resume(tmp_path):
    pytest.importorskip("onnxruntime")
    sets = synthetic_parts()
    sface_tail.cache(sets, tmp_path, SFACE, batch=8)
    for part in sface_tail.PARTS:
        for view in sface_tail.VIEWS:
            assert sface_tail.Activations.complete(tmp_path, part, view, len(sets[part].labels)) is not None
    # the cached activations give the published network's embeddings
    acts = sface_tail.Activations(tmp_path, "select", "plain", len(sets["select"].labels)).array
    net = sface_tail.from_onnx(SFACE)
    with torch.no_grad():
        whole = torch.nn.functional.normalize(net(torch.from_numpy(sets["select"].crops[:3].transpose(0, 3, 1, 2))
                                                  .float()), dim=1).numpy()
    assert np.abs(sface_tail.embed(sface_tail.Tail(net), acts[:3]) - whole).max() < 1e-2  # float16 cache

    hist = sface_tail.train(tmp_path, sets, SFACE, "t", "fc", lr=0.01, epochs=1, batch=8)
    assert [h["epoch"] for h in hist] == [0, 1] and "B" in hist[1]
    state = torch.load(tmp_path / "runs" / "t" / "epoch-1.pt")
    hist = sface_tail.train(tmp_path, sets, SFACE, "t", "fc", lr=0.01, epochs=2, batch=8)  # resumes
    assert [h["epoch"] for h in hist] == [0, 1, 2]
    assert json.loads((tmp_path / "runs" / "t" / "history.json").read_text()) == hist
    assert torch.equal(torch.load(tmp_path / "runs" / "t" / "epoch-2.pt")["tail"]["features.25.0.weight"],
                       state["tail"]["features.25.0.weight"])  # conv_14 frozen with --train fc


@pytest.mark.skipif(not SFACE.exists(), reason=f"{SFACE} is absent (shared weights)")
def test_export_gives_the_trained_network_as_a_facesearch_graph(tmp_path):
    pytest.importorskip("onnxruntime")
    from facesearch.encoders.base import file_checksum
    from facesearch.encoders.graphs import graph_net

    net = sface_tail.from_onnx(SFACE)
    tail = sface_tail.Tail(net)
    with torch.no_grad():
        tail.fc.weight.mul_(-1)  # a "trained" tail, unlike the published one
    torch.save({"tail": tail.state_dict()}, tmp_path / "epoch-1.pt")
    sha = sface_tail.export(tmp_path / "epoch-1.pt", tmp_path / "t.onnx", SFACE)
    g = graph_net(tmp_path / "t.onnx")
    assert (g.arch, g.embedding_dim, g.weights_checksum) == ("sface-facecom", 128, sha)
    assert sha == file_checksum(tmp_path / "t.onnx")
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 112, 112)).astype(np.float32)
    with torch.no_grad():
        expect = net.eval()(torch.from_numpy(x)).numpy()
    assert np.abs(np.asarray(g.run(x)) - expect).max() < 1e-3


def test_available_takes_fits_finished_rows_and_only_complete_parts(tmp_path):
    sets = synthetic_parts()
    n = {p: len(cs.labels) for p, cs in sets.items()}
    fit = sface_tail.Activations(tmp_path, "fit", "plain", n["fit"], "w+")
    fit.mark(6)  # 1.5 identities of 4 photos
    sface_tail.Activations(tmp_path, "fit", "flip", n["fit"], "w+").mark(3)  # fewer rows: not used
    sface_tail.Activations(tmp_path, "select", "plain", n["select"], "w+").mark(n["select"])
    sface_tail.Activations(tmp_path, "check", "plain", n["check"], "w+").mark(n["check"] - 1)
    got, views = sface_tail.available(tmp_path, sets)
    assert set(got) == {"fit", "select"}
    assert got["fit"].names == sets["fit"].names[:2] and list(got["fit"].labels) == [0, 0, 0, 0, 1, 1]
    assert [len(v) for v in views["fit"]] == [6] and [len(v) for v in views["select"]] == [n["select"]]
