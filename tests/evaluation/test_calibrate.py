import json

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from tests.conftest import person_image


@pytest.fixture
def labelled(tmp_path):
    """Ten people: two clean photos each, distorted copies of each."""
    root = tmp_path / "labelled"
    for i in range(10):
        d = root / f"id{i:02d}" / "distortion"
        d.mkdir(parents=True)
        for j in (1, 2):
            person_image(i, noise=4, rng_seed=j).save(root / f"id{i:02d}" / f"id{i:02d}_000{j}.png")
            for k, kind in enumerate(("noisy", "foggy")):
                person_image(i, noise=20, rng_seed=10 * j + k).save(d / f"id{i:02d}_000{j}_{kind}.png")
    return root


def test_calibrate_then_query_and_eval(tmp_path, labelled, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(main, ["index", str(labelled), "--model", "fake", "--detector", "none"]).exit_code == 0
    r = run(main, ["calibrate", str(labelled), "--target-far", "0.05", "--plots", "plots", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["far"] <= 0.05 and info["genuine_pairs"] == 10 * 4 * 2 and info["impostor_pairs"] == 9 * 40 * 2
    assert (tmp_path / "plots" / "histogram.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "roc.png").exists()
    q = run(main, ["query", str(labelled / "id03" / "distortion" / "id03_0001_noisy.png"), "--json"])
    assert json.loads(q.stdout)["accepted"] in (True, False)

    r = run(main, ["eval", str(labelled), "--report", "out/report.md", "--plots", "out"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(rep["protocols"]) == {"A", "B"} and rep["threshold"] == pytest.approx(info["threshold"])
    assert 0 <= rep["open_set"]["false_accept_rate"] <= 1 and rep["roc_auc"] > 0.5
    assert "## Open set" in (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "distortions.png").exists()


def test_second_run_uses_embedding_cache(tmp_path, labelled, monkeypatch):
    from facesearch.evaluation.labelled import embed_folder
    from facesearch.faces.pipeline import Embedder
    from facesearch.gallery import Gallery

    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["index", str(labelled), "--model", "fake", "--detector", "none"])
    g = Gallery(tmp_path / "facesearch.db")
    embed_folder(g, labelled)
    calls = []
    monkeypatch.setattr(Embedder, "_batch", lambda self, paths, decoded: calls.append(paths) or [])
    data, errors = embed_folder(g, labelled)
    assert calls == [] and len(data.paths) == 60 and not errors


def test_f1_objective(tmp_path, labelled, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(labelled), "--model", "fake", "--detector", "none"])
    r = run(main, ["calibrate", str(labelled), "--objective", "f1"])
    assert r.exit_code == 0 and "max F1" in r.stdout


def test_fpir_objective_bounds_strangers_accepted(tmp_path, labelled, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(labelled), "--model", "fake", "--detector", "none"])
    far = json.loads(run(main, ["calibrate", str(labelled), "--target-far", "0.1", "--json"]).stdout)
    r = run(main, ["calibrate", str(labelled), "--objective", "fpir", "--target-far", "0.1", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["fpir"] <= 0.1 and 0 <= info["tpir"] <= 1
    # a per-query bound is stricter than the same per-comparison bound
    assert info["threshold"] >= far["threshold"]


def test_identification_scores_by_hand():
    import numpy as np

    from facesearch.evaluation.labelled import Labelled, identification_scores

    emb = np.array([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]], np.float32)
    data = Labelled(["a", "b", "qa", "qb"], np.array([0, 1, 0, 0]), ["x", "y"],
                    ["clean", "clean", "noisy", "noisy"], ["x/a", "y/b", "x/a", "x/a"], emb)
    hit, stranger = identification_scores(data)
    # query qa: top match a (correct, 0.8); best impostor b scores 0.6
    # query qb: top match b (wrong person, 0.8) -> no hit; best impostor b 0.8
    np.testing.assert_allclose(hit, [0.8, -np.inf])
    np.testing.assert_allclose(stranger, [0.6, 0.8])
