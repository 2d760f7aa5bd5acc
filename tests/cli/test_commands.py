import json

import pytest
from click.testing import CliRunner

from facesearch.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def index_args(gallery_dir, *extra):
    return ("index", gallery_dir, "--model", "fake", "--detector", "none", *extra)


def test_help_explains_every_command(cli):
    out = cli("--help").output
    for cmd in ("index", "query", "compare", "people", "reindex", "check"):
        assert cmd in out
    assert "--include-distorted" in cli("index", "--help").output


def test_index_query_json_end_to_end(cli, gallery_dir, tmp_path):
    r = cli(*index_args(gallery_dir))
    assert r.exit_code == 0, r.output
    assert "added 6" in r.output and (tmp_path / "facesearch.db").exists() and (tmp_path / "facesearch.faiss").exists()
    r = cli("query", gallery_dir / "bob" / "distortion", gallery_dir / "alice" / "alice_0001.jpg", "--k", "2", "--json")
    assert r.exit_code == 0
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [list(x)[:3] for x in lines] == [["query", "matches", "accepted"]] * 2  # documented keys first
    assert all(set(x["quality"]) == {"score", "usable", "reasons"} and "margin" in x for x in lines)
    assert [m["identity"] for m in lines[0]["matches"]][0] == "bob"
    assert list(lines[0]["matches"][0]) == ["identity", "score", "photo"]
    assert len(lines[0]["matches"]) == 2 and lines[0]["accepted"] is None


def test_second_index_run_embeds_nothing(cli, gallery_dir):
    cli(*index_args(gallery_dir))
    r = cli("index", gallery_dir, "--json")  # encoder and detector come from the DB
    assert r.exit_code == 0
    assert json.loads(r.stdout.splitlines()[-1])["added"] == 0


def test_include_distorted_and_people(cli, gallery_dir):
    cli(*index_args(gallery_dir, "--include-distorted"))
    r = cli("people", "--json")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows == [{"identity": n, "photos": 3} for n in ("alice", "bob", "carol")]


def test_bad_inputs_do_not_stop_the_run(cli, gallery_dir, tmp_path):
    (gallery_dir / "alice" / "zero.jpg").write_bytes(b"")
    r = cli(*index_args(gallery_dir))
    assert r.exit_code == 1
    assert "error:" in r.stderr and "zero.jpg" in r.stderr and "added 6" in r.stdout
    (tmp_path / "notes.jpg").write_text("text")
    r = cli("query", tmp_path / "notes.jpg", gallery_dir / "bob" / "bob_0001.jpg", tmp_path / "missing.png", "--json")
    assert r.exit_code == 1
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [sorted(x) for x in lines] == [["error", "query"],
                                          ["accepted", "face_found", "margin", "matches", "quality", "query"],
                                          ["error", "query"]]
    assert "notes.jpg" in r.stderr and "missing.png" in r.stderr


def test_query_without_database(cli, gallery_dir):
    r = cli("query", gallery_dir / "bob" / "bob_0001.jpg")
    assert r.exit_code == 1 and "run `facesearch index" in r.stderr


def test_query_with_other_encoder_is_refused(cli, gallery_dir, tmp_path):
    import torch

    from tests.fake_encoder import FakeNet

    other = FakeNet()
    torch.nn.init.normal_(other.proj.weight)
    torch.save(other.state_dict(), tmp_path / "other.pt")
    cli(*index_args(gallery_dir))
    r = cli("query", gallery_dir / "bob" / "bob_0001.jpg", "--model", "fake", "--weights", tmp_path / "other.pt")
    assert r.exit_code == 1 and "was built with encoder fake from fake (dim 16" in r.stderr
    assert "checksum fake:None" in r.stderr and str(tmp_path / "other.pt") in r.stderr


def test_table_output_and_threshold_override(cli, gallery_dir):
    cli(*index_args(gallery_dir))
    q = gallery_dir / "carol" / "carol_0001.jpg"
    assert "no threshold calibrated" in cli("query", q).output
    assert "ACCEPTED carol" in cli("query", q, "--threshold", "0.9").output
    assert "UNKNOWN: best score 1.000 is below the threshold 1.010" in cli("query", q, "--threshold", "1.01").output


def test_unknown_says_the_margin_was_too_small(cli, gallery_dir, tmp_path):
    from facesearch.gallery import Gallery

    cli(*index_args(gallery_dir))
    Gallery(tmp_path / "facesearch.db").set_threshold(-1.0, {"objective": "test", "margin": 1.5})
    q = gallery_dir / "carol" / "carol_0001.jpg"
    out = cli("query", q, "--k", "2").output
    assert "UNKNOWN: only" in out and "ahead of the next identity (needs 1.500)" in out
    assert "UNKNOWN: not 1.500 ahead of the next identity" in cli("query", q, "--k", "1").output


def test_compare_people_check_reindex(cli, gallery_dir, tmp_path):
    cli(*index_args(gallery_dir))
    r = cli("compare", gallery_dir / "bob" / "bob_0001.jpg", gallery_dir / "bob" / "bob_0002.png", "--json")
    assert json.loads(r.stdout)["score"] > 0.5
    assert cli("check").exit_code == 0
    (tmp_path / "facesearch.faiss").unlink()
    assert cli("check").exit_code == 1
    assert "6 vectors" in cli("reindex").output
    assert cli("check").exit_code == 0
    assert cli("people", "rename", "bob", "robert").exit_code == 0
    assert "removed carol (2 photos)" in cli("people", "remove", "carol").output
    assert "robert\t2" in cli("people").stdout and cli("check").exit_code == 0


def test_refusals_are_one_clean_line(tmp_path, gallery_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    assert run(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"]).exit_code == 0
    for args, message in [(["people", "rename", "nobody", "x"], "error: no identity named 'nobody'"),
                          (["people", "remove", "nobody"], "error: no identity named 'nobody'"),
                          (["index", str(gallery_dir), "--detector", "mtcnn"], "error: facesearch.db was built with --detector none"),
                          (["calibrate", str(gallery_dir / "alice")], "error: ")]:
        r = run(main, args)
        assert r.exit_code == 1 and r.stderr.splitlines()[-1].startswith(message), (args, r.output)
        assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    assert run(main, ["check"]).exit_code == 0  # a refused write leaves the index current


def test_unusable_faces_are_reported_never_accepted_and_can_be_skipped(cli, gallery_dir, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64), (255, 255, 255)).save(gallery_dir / "alice" / "glare.png")
    r = cli(*index_args(gallery_dir, "--json"))
    assert r.exit_code == 0 and "glare.png: face unusable (face washed out" in r.stderr
    assert json.loads(r.stdout)["unusable"] == 1 and json.loads(r.stdout)["added"] == 7
    Image.new("RGB", (64, 64), (255, 255, 255)).save(tmp_path / "white.png")
    q = json.loads(cli("query", tmp_path / "white.png", "--json", "--threshold", "-1").stdout)
    assert q["matches"][0]["identity"] == "alice" and q["accepted"] is False and q["quality"]["usable"] is False
    assert "UNUSABLE FACE: face washed out" in cli("query", tmp_path / "white.png", "--threshold", "-1").stdout
    skip = cli("index", gallery_dir, "--db", "skip.db", "--model", "fake", "--detector", "none",
               "--quality-gate", "skip", "--json")
    assert json.loads(skip.stdout)["added"] == 6 and "not enrolled" in skip.stderr


def test_query_warns_when_the_gallery_outgrew_its_threshold(cli, gallery_dir):
    from facesearch.gallery import Gallery

    cli(*index_args(gallery_dir))
    Gallery("facesearch.db").set_threshold(0.5, {"gallery_size": 1, "objective": "fpir"})
    r = cli("query", gallery_dir / "bob" / "bob_0001.jpg")
    assert "more than twice the 1 its threshold was calibrated for" in r.stderr


def test_compare_says_which_photo_has_no_face(cli, gallery_dir, tmp_path, monkeypatch):
    """Issue 23 row 24: a blank photo was compared as "different people" with no word of it."""
    from PIL import Image

    from facesearch.gallery import Gallery
    from tests.stub_detector import install

    install(monkeypatch)
    Image.new("RGB", (300, 300), (255, 255, 255)).save(tmp_path / "blank.png")
    face = gallery_dir / "bob" / "bob_0001.jpg"
    cli("index", gallery_dir, "--model", "fake")
    Gallery.open(tmp_path / "facesearch.db").set_verify_threshold(0.5, {})
    out = cli("compare", "blank.png", face).stdout
    assert out.endswith("different people  (no face found in blank.png: centre crop compared)\n"), out
    r = cli("compare", tmp_path / "blank.png", face, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["face_found"] == {"a": False, "b": True}
    assert list(json.loads(r.stdout))[:4] == ["a", "b", "score", "same"]
    assert "no face" not in cli("compare", face, face).stdout
    r = cli("compare", face, tmp_path / "blank.png", "--model", "fake", "--json")
    assert json.loads(r.stdout)["face_found"] == {"a": True, "b": False}
