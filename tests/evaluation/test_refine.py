"""`calibrate` on a model with a shipped calibration refines it, weighted by the evidence."""
import json

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from facesearch.evaluation.refine import refine_rule, refine_threshold, weight
from facesearch.types import AcceptRule


def test_shrinkage_by_evidence():
    assert weight(290, 0.01) == pytest.approx(290 / 1290)
    value, moved = refine_threshold(3.0, 1.0, 1000, 0.01)
    assert value == pytest.approx(2.0) and moved["weight"] == 0.5 and moved["prior"] == 1000
    assert refine_threshold(None, 1.0, 0, 0.01)[0] == 1.0  # no impostor: the shipped value stays
    rule, moved = refine_rule(AcceptRule(3.0, 1.0), AcceptRule(1.0, None), 9000, 0.01)
    assert rule.score == pytest.approx(2.8) and rule.margin == 1.0  # a margin only one side has is kept
    assert refine_rule(None, AcceptRule(1.0, 0.5), 0, 0.01)[0] == AcceptRule(1.0, 0.5)


def test_few_photos_refine_the_shipped_rule_instead_of_refusing(tmp_path, gallery_dir, monkeypatch,
                                                                 shipped_calibration_file):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"]).exit_code == 0
    q = str(gallery_dir / "bob" / "bob_0001.jpg")
    assert json.loads(run(main, ["query", q, "--json"]).stdout)["calibration"] == "shipped"
    r = run(main, ["calibrate", str(gallery_dir)])  # 3 people: far fewer than 1,000 comparisons
    assert r.exit_code == 0, r.output
    assert "changed the verification threshold (compare): 1.0000 (cohort units), shipped -> " in r.stdout
    assert "changed the identification threshold (query): 1.5000 + margin 0.5000 (cohort units), shipped -> " in r.stdout
    assert "impostor comparisons weigh" in r.stdout and "against the shipped calibration" in r.stdout
    r = run(main, ["calibrate", str(gallery_dir), "--json"])
    info = json.loads(r.stdout)
    v = info["verification"]["refined"]
    assert info["cohort"] and 0 < v["weight"] < 0.05 and v["shipped"] == 1.0
    assert info["verification"]["threshold"] == pytest.approx(v["weight"] * v["own"] + (1 - v["weight"]) * 1.0)
    assert info["previous"]["verification"]["calibration"] == "user"  # the first run's refinement decided
    assert json.loads(run(main, ["query", q, "--json"]).stdout)["calibration"] == "user"
    compare = json.loads(run(main, ["compare", q, q, "--json"]).stdout)
    assert compare["same"] is True and compare["calibration"] == "user"
    assert "SAME PERSON (these two faces need " in run(main, ["compare", q, q]).stdout


def test_uncalibrated_custom_model_says_how_to_calibrate(tmp_path, gallery_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"])
    a, b = str(gallery_dir / "bob" / "bob_0001.jpg"), str(gallery_dir / "alice" / "alice_0001.jpg")
    r = run(main, ["compare", a, b])
    assert "undecided: no verification threshold for this model; run `facesearch calibrate" in r.stdout
    assert json.loads(run(main, ["compare", a, b, "--json"]).stdout)["same"] is None
    assert json.loads(run(main, ["query", a, "--json"]).stdout)["accepted"] is None


def test_eval_measures_the_shipped_rule_in_its_units(tmp_path, gallery_dir, monkeypatch, shipped_calibration_file):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"])
    r = run(main, ["eval", str(gallery_dir), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["calibration"] == "shipped" and rep["units"] == "cohort" and rep["threshold"] == 1.5  # 3 people: size 10
    assert rep["open_set"]["queries"] > 0
