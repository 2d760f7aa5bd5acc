import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesearch.cli import main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "facecom_gender"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_analyze_json_gives_box_quality_and_gender_per_face(cli, gender_model, gender_dir, tmp_path):
    female, male = sorted((gender_dir / "val" / "female").iterdir())[0], sorted((gender_dir / "val" / "male").iterdir())[0]
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    r = cli("analyze", female, tmp_path / "broken.jpg", male, "--model", gender_model, "--json")
    assert r.exit_code == 1 and "broken.jpg" in r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [list(x) for x in lines] == [["photo", "faces", "main"], ["photo", "error"], ["photo", "faces", "main"]]
    assert [x["faces"][x["main"]]["gender"]["label"] for x in (lines[0], lines[2])] == ["female", "male"]
    face = lines[0]["faces"][0]
    assert list(face) == ["box", "det_score", "quality", "gender"] and list(face["gender"]) == ["label", "score"]
    assert 0.5 <= face["gender"]["score"] <= 1


def test_analyze_text_and_folders(cli, gender_model, gender_dir):
    r = cli("analyze", gender_dir / "val" / "male", "--model", gender_model)
    assert r.exit_code == 0 and r.stdout.count("male 0.") == 6 and "face 1" in r.stdout


def test_analyze_refuses_a_file_that_is_no_model(cli, tmp_path, gender_dir):
    (tmp_path / "m.npz").write_bytes(b"junk")
    r = cli("analyze", gender_dir / "val", "--model", tmp_path / "m.npz")
    assert r.exit_code == 1 and "not a facesearch attribute model" in r.stderr


@pytest.mark.slow  # training
def test_train_task_gender_through_the_cli(cli, gender_dir, tmp_path, monkeypatch):
    import training.data

    monkeypatch.setattr(training.data, "DEFAULT_CACHE", tmp_path / "cache")
    r = cli("train", "--task", "gender", gender_dir / "train", "--val", gender_dir / "val", "--encoder", "fake",
            "--out", tmp_path / "g")
    assert r.exit_code == 0, r.output
    assert "val_unseen: balanced accuracy 1.0000" in r.stdout and (tmp_path / "g" / "gender.npz").is_file()


def test_query_attributes_adds_gender_and_keeps_the_documented_keys(cli, gallery_dir, gender_model, monkeypatch):
    from facesearch.gallery import attributes

    monkeypatch.setattr(attributes, "load_head", lambda model=None, _load=attributes.load_head: _load(gender_model))
    cli("index", gallery_dir, "--model", "fake", "--detector", "none")
    r = cli("query", gallery_dir / "bob" / "bob_0001.jpg", "--attributes", "--all-faces", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert list(out)[:5] == ["query", "matches", "accepted", "quality", "margin"]
    assert out["gender"]["label"] in ("female", "male") and out["faces"][0]["gender"] == out["gender"]
    assert "gender: " in cli("query", gallery_dir / "bob" / "bob_0001.jpg", "--attributes").stdout


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data/facecom_gender")
def test_shipped_gender_model_on_facecom_val_photos(cli):
    photos = [p for cls in ("female", "male") for p in sorted((DATA / "val" / cls).iterdir())[:8]]
    r = cli("analyze", *photos, "--json")
    assert r.exit_code == 0, r.output
    labels = [(lambda x: x["faces"][x["main"]]["gender"]["label"])(json.loads(line)) for line in r.stdout.splitlines()]
    correct = sum(got == p.parent.name for got, p in zip(labels, photos))
    assert correct >= 14, labels
