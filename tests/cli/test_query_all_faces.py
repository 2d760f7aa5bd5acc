"""`facesearch query --all-faces`: the documented keys for the main face, plus "faces"."""
import json

import pytest

from click.testing import CliRunner

from facesearch.cli import main
from tests.stub_detector import expected_box, install, large_photo


def test_all_faces_json_keeps_the_documented_keys_and_adds_faces(tmp_path, monkeypatch, gallery_dir):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"]).exit_code == 0
    q = str(gallery_dir / "bob" / "distortion" / "bob_0001_noisy.jpg")
    plain = json.loads(run(main, ["query", q, "--k", "2", "--json"]).stdout)
    r = run(main, ["query", q, "--k", "2", "--json", "--all-faces", "--threshold", "0.5"])
    assert r.exit_code == 0, r.output
    line = json.loads(r.stdout)
    assert list(line) == ["query", "matches", "accepted", "quality", "margin", "face_found", "calibration", "reason",
                          "threshold", "faces"]
    assert line["matches"] == plain["matches"] and line["accepted"] is True
    (face,) = line["faces"]  # --detector none: the photo is the face
    assert list(face) == ["box", "det_score", "quality", "matches", "accepted", "margin", "calibration", "reason",
                          "threshold"]
    assert face["matches"] == line["matches"] and face["box"] is None and face["margin"] == line["margin"]
    text = run(main, ["query", q, "--all-faces"]).stdout
    assert "face 1 (centre crop, no face found): bob" in text


def test_boxes_of_a_large_photo_are_in_its_own_pixels(tmp_path, monkeypatch, gallery_dir):
    """Issue 23 row 23: faces of a photo over 1,024 px came back in the searched copy's pixels."""
    monkeypatch.chdir(tmp_path)
    install(monkeypatch)
    run = CliRunner().invoke
    assert run(main, ["index", str(gallery_dir), "--model", "fake"]).exit_code == 0
    for size in [(2280, 1588), (1588, 2280), (1500, 900)]:
        photo = large_photo(tmp_path / f"large{size}.jpg", size)
        line = json.loads(run(main, ["query", str(photo), "--json", "--all-faces"]).stdout)
        assert line["face_found"] is True
        assert line["faces"][0]["box"] == pytest.approx(expected_box(*size), abs=0.1)


def test_each_unknown_face_says_why_in_one_phrase(tmp_path, monkeypatch, gallery_dir):
    """Issue 24 item 4: with --all-faces every face line said only UNKNOWN, not why."""
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"]).exit_code == 0
    q = str(gallery_dir / "bob" / "distortion" / "bob_0001_noisy.jpg")
    text = run(main, ["query", q, "--all-faces", "--threshold", "1.01"]).stdout
    assert "face 1 (centre crop, no face found): bob" in text
    assert text.rstrip().endswith("UNKNOWN (low score)"), text
