import json
import warnings

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
    r = run(main, ["calibrate", str(labelled), "--target-fpir", "0.25", "--target-far", "0.05", "--plots", "plots", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["verification"]["far"] <= 0.05 and info["genuine_pairs"] == 10 * 4 * 2
    assert info["impostor_pairs"] == 9 * 40 * 2
    # the identification floor lets one identity's impostors through at the FPIR target at most;
    # the margin over the runner-up holds the gallery's FPIR
    assert info["far"] <= 0.25 and info["margin"] >= 0 and info["fpir"] <= 0.25
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
    r = run(main, ["calibrate", str(labelled), "--target-fpir", "0.25", "--objective", "f1"])
    assert r.exit_code == 0 and "max F1" in r.stdout


def test_fpir_objective_bounds_strangers_accepted(tmp_path, labelled, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(labelled), "--model", "fake", "--detector", "none"])
    far = json.loads(run(main, ["calibrate", str(labelled), "--target-fpir", "0.25", "--target-far", "0.1", "--json"]).stdout)
    # 40 queries: fewer than a target of 0.1 needs (100), hence --force
    r = run(main, ["calibrate", str(labelled), "--objective", "fpir", "--target-far", "0.1", "--json", "--force"])
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


@pytest.fixture
def plain(tmp_path):
    """Plain person folders, no distortion/: six people, three photos each."""
    root = tmp_path / "plain"
    for i in range(6):
        (root / f"p{i}").mkdir(parents=True)
        for j in range(3):
            person_image(i, noise=10, rng_seed=j).save(root / f"p{i}" / f"{j}.png")
    return root


def test_too_little_data_for_the_target_is_refused_unless_forced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small = tmp_path / "small"  # 2 people, 4 photos: 8 impostor comparisons
    for i in range(2):
        (small / f"p{i}").mkdir(parents=True)
        for j in range(2):
            person_image(i, noise=10, rng_seed=j).save(small / f"p{i}" / f"{j}.png")
    run = CliRunner().invoke
    run(main, ["index", str(small), "--model", "fake", "--detector", "none"])
    r = run(main, ["calibrate", str(small), "--target-far", "0.01"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert ("8 impostor comparisons cannot support --target-far 0.01: at least 1,000 are needed" in r.stderr
            and "--force" in r.stderr)
    for args, needed in [(["--target-far", "0.9", "--target-fpir", "0.02"], "4 queries cannot support "
                          "--target-fpir 0.02: at least 500"),
                         (["--objective", "f1"], "4 genuine / 8 impostor comparisons cannot support --objective f1")]:
        r = run(main, ["calibrate", str(small), *args])
        assert r.exit_code == 1 and needed in r.stderr, r.output
    assert json.loads(run(main, ["calibrate", str(small), "--json", "--force"]).stdout)["impostor_pairs"] == 8


def test_replacing_a_threshold_says_what_it_replaced(tmp_path, labelled, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(labelled), "--model", "fake", "--detector", "none"])
    first = json.loads(run(main, ["calibrate", str(labelled), "--target-fpir", "0.25", "--target-far", "0.05", "--json"]).stdout)
    assert first["replaced"] is None
    r = run(main, ["calibrate", str(labelled), "--target-fpir", "0.25", "--target-far", "0.1"])
    assert r.exit_code == 0, r.output
    assert (f"replaced threshold {first['threshold']:.4f} (objective fpir, target 0.25, data {labelled}, "
            f"{first['date']})") in r.stdout
    third = json.loads(run(main, ["calibrate", str(labelled), "--target-fpir", "0.3", "--objective", "f1", "--json"]).stdout)
    assert third["replaced"]["objective"] == "fpir" and third["replaced"]["target"] == 0.25
    assert third["verification"]["objective"] == "f1" and third["verification"]["target"] is None
    assert set(first) <= set(third)  # every key kept
    again = json.loads(run(main, ["calibrate", str(labelled), "--target-fpir", "0.25", "--objective", "f1", "--json"]).stdout)
    assert again["replaced"]["threshold"] == pytest.approx(third["threshold"])
    assert again["replaced"]["target"] == 0.3 and "replaced" not in again["replaced"]  # no nesting


@pytest.mark.parametrize("command", ["eval", "calibrate"])
def test_empty_folder_is_a_data_error(tmp_path, gallery_dir, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"])
    (tmp_path / "empty").mkdir()
    r = run(main, [command, "empty"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.stderr == "error: no labelled photos in empty (expected empty/<person>/*.jpg)\n"


def test_eval_on_plain_person_folders_measures_what_it_can(tmp_path, plain, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(plain), "--model", "fake", "--detector", "none"])
    assert run(main, ["calibrate", str(plain), "--target-fpir", "0.25", "--target-far", "0.1", "--force"]).exit_code == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = run(main, ["eval", str(plain), "--report", "out/report.md", "--plots", "out"])
    assert r.exit_code == 0, r.output
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    text = (tmp_path / "out" / "report.json").read_text()
    assert "NaN" not in text and "nan" not in (tmp_path / "out" / "report.md").read_text()
    rep = json.loads(text)
    assert rep["protocols"] == {} and rep["roc_auc"] > 0.5
    o = rep["open_set"]  # 3 people enrolled by their first photo; the other 15 photos queried
    assert (o["enrolled_identities"], o["unenrolled_identities"], o["queries"]) == (3, 3, 15)
    assert 0 <= o["false_accept_rate"] <= 1 and 0 <= o["correct_accept_rate"] <= 1


def test_rates_without_data_are_null_not_nan(tmp_path, monkeypatch):
    import numpy as np

    from facesearch.evaluation import metrics
    from facesearch.evaluation.calibrate import open_set
    from facesearch.evaluation.labelled import Labelled
    from facesearch.evaluation.report import markdown
    from facesearch.types import AcceptRule

    one = Labelled(["a", "b"], np.array([0, 0]), ["x"], ["clean", "clean"], ["x/a", "x/b"],
                   np.eye(2, dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o = open_set(one, AcceptRule(0.5))
        p = metrics.prf(np.array([0.9]), np.array([]), 0.5)
        auc = metrics.roc_auc(np.array([0.9]), np.array([]))
    assert o["false_accept_rate"] is None and o["correct_accept_rate"] == 0.0
    assert p["far"] is None and p["tar"] == 1.0 and auc is None
    rep = {"data": "d", "encoder": "fake", "model_checksum": "fake:None", "photos": 2, "identities": 1,
           "protocols": {}, "roc_auc": auc, "tar_at_far": {"0.01": None}, "threshold": 0.5,
           "at_threshold": p, "open_set": o}
    text = markdown(rep)
    assert "ROC AUC: -" in text and "FAR -" in text and "people not enrolled: -" in text


@pytest.mark.parametrize("layout, says", [
    ("one photo each", "no genuine pairs: no identity has two or more photos"),
    ("one identity", "no impostor pairs: photos of two or more identities are needed, there are only photos of 'p0'"),
    ("distorted of others", "no genuine pairs: no identity has both a clean photo and a distorted one"),
])
def test_calibration_says_what_the_data_lacks(tmp_path, gallery_dir, monkeypatch, layout, says):
    """Issue 23 row 21: "needs at least two identities with photos" for data that had many."""
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"])
    root = tmp_path / "data"
    people = {"one photo each": [(i, "") for i in range(4)], "one identity": [(0, ""), (0, "")],
              "distorted of others": [(0, ""), (1, "distortion/")]}[layout]
    for n, (i, sub) in enumerate(people):
        (root / f"p{i}" / sub).mkdir(parents=True, exist_ok=True)
        person_image(i, noise=4, rng_seed=n).save(root / f"p{i}" / sub / f"p{i}_{n}_noisy.png")
    r = run(main, ["calibrate", str(root), "--force"])
    assert r.exit_code == 1 and says in r.stderr and "at least two identities with photos" not in r.stderr, r.output
