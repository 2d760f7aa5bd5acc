"""`facesearch cluster`, `correct`, `audit` and `people remove --erase` through the CLI, on
every storage backend (SQLite or PostgreSQL, FAISS or Milvus Lite)."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from facesearch.gallery import Gallery
from tests.cli.test_backends import cli  # noqa: F401  (the fixture)
from tests.gallery.test_library import THRESHOLD, make_photos


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_cluster_name_correct_erase_audit(cli, backend, gallery_dir, tmp_path):  # noqa: F811
    db, _ = backend
    assert cli("index", gallery_dir, "--model", "fake", "--detector", "none", *cli.index_extra).exit_code == 0
    Gallery.open(db).set_threshold(0.5, {})
    photos = make_photos(tmp_path / "library", range(5))
    r = cli("cluster", tmp_path / "library", "--threshold", THRESHOLD, "--json")
    assert r.exit_code == 0, r.output
    *faces, summary = lines(r)
    assert len(faces) == 15 and all(f.keys() == {"photo", "face", "box", "cluster", "identity"} for f in faces)
    assert summary["clusters"] == 5 and summary["embedded"] == 15 and summary["failed"] == 0
    got = {Path(f["photo"]).stem: f for f in faces}
    assert [got[f"p{i}_0"]["identity"] for i in range(5)] == ["alice", "bob", "carol", "carol", None]
    assert lines(cli("cluster", tmp_path / "library", "--json"))[-1]["embedded"] == 0  # incremental

    r = cli("cluster", "name", got["p4_0"]["cluster"], "dave", "--json")
    assert r.exit_code == 0 and lines(r) == [{"cluster": got["p4_0"]["cluster"], "identity": "dave", "added": 3}]
    assert {c["name"] for c in lines(cli("cluster", "list", "--json"))} == {None, "dave"}
    assert "dave\t3" in cli("people").stdout

    done = lines(cli("correct", photos[9], "--not", "carol", "--json"))[0]  # p3_0 is not carol
    assert lines(cli("correct", "--list", "--json"))[0]["id"] == done["id"]
    r = cli("query", photos[10], "--json")
    assert lines(r)[0]["matches"][0]["identity"] == "carol" and lines(r)[0]["accepted"] is False
    assert cli("correct", "--undo", done["id"]).exit_code == 0
    assert lines(cli("query", photos[10], "--json"))[0]["accepted"] is True

    r = cli("people", "remove", "dave", "--erase", "--json")
    assert r.exit_code == 0, r.output
    erased = lines(r)[0]
    assert erased["erased"] == "dave" and erased["photos"] == 3 and erased["library_faces"] == 3
    assert "VACUUM" in erased["compacted"]
    assert cli("check").exit_code == 0 and "dave" not in cli("people").stdout

    log = lines(cli("audit", "--json"))
    by_action = {a["action"]: a for a in log}  # the last of each
    assert [a["actor"] for a in log if a["action"] == "enrol"] == ["cli:main index", "cli:main cluster name"]
    assert by_action["erase"]["actor"] == "cli:main people remove" and by_action["erase"]["target"] == "dave"
    assert by_action["feedback"]["actor"] == "cli:main correct"
    assert {"cluster", "feedback_undo", "remove", "calibrate"} <= set(by_action)
    assert "erase" in cli("audit").stdout

    r = cli("reembed", "--model", "fake", "--no-flip", "--switch", "--json")  # the model change, on this backend
    assert r.exit_code == 0, r.output
    moved = lines(r)[0]
    assert moved["switched"] is True and moved["photos"] == 6 and moved["after"]["loo_top1"] == 1.0
    assert cli("check").exit_code == 0
    assert lines(cli("query", photos[3], "--json"))[0]["matches"][0]["identity"] == "bob"
    assert lines(cli("audit", "--json"))[-1]["action"] == "reembed_switch"


@pytest.fixture
def run(tmp_path, gallery_dir, monkeypatch):
    """``run(*args)``: the CLI on a SQLite database where ``gallery_dir`` is enrolled (fake encoder)."""
    monkeypatch.setenv("FACESEARCH_DB", str(tmp_path / "fs.db"))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args])

    assert invoke("index", gallery_dir, "--model", "fake", "--detector", "none").exit_code == 0
    return invoke


def test_bad_input(run, tmp_path, gallery_dir):
    r = run("cluster", "name", "99", "x")
    assert r.exit_code == 1 and "no cluster with id 99" in r.output
    assert run("cluster", tmp_path / "nowhere").exit_code == 2
    r = run("correct", gallery_dir / "bob" / "bob_0001.jpg")
    assert r.exit_code == 2 and "--not NAME" in r.output
    r = run("correct", gallery_dir / "bob" / "bob_0001.jpg", "--not", "zed")
    assert r.exit_code == 1 and "no identity named 'zed'" in r.output
    r = run("correct", "--undo", "5")
    assert r.exit_code == 1 and "no correction with id 5" in r.output
    r = run("people", "remove", "zed", "--erase")
    assert r.exit_code == 1 and "no identity named 'zed'" in r.output
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "bad.jpg").write_bytes(b"nope")
    make_photos(tmp_path / "lib", [0])
    r = run("cluster", tmp_path / "lib", "--json")
    assert r.exit_code == 1 and "bad.jpg" in r.stderr and json.loads(r.stdout.splitlines()[-1])["faces"] == 3


def test_reembed_reports_missing_files_with_exit_status_1(run, gallery_dir):
    (gallery_dir / "bob" / "bob_0002.png").unlink()
    r = run("reembed", "--model", "fake", "--no-flip", "--json")
    assert r.exit_code == 1 and "bob_0002.png" in r.stderr and len(json.loads(r.stdout)["missing"]) == 1
    r = run("reembed", "--model", "fake", "--no-flip", "--switch")
    assert r.exit_code == 1 and "--drop-missing" in r.output
    r = run("reembed", "--model", "fake", "--no-flip", "--switch", "--drop-missing", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["switched"] is True and "bob\t1" in run("people").stdout


def test_reembed_command(run, gallery_dir, monkeypatch):
    assert run("reembed").exit_code == 2  # --model is required
    r = run("reembed", "--model", "fake", "--no-flip", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["photos"] == 6 and report["embedded_now"] == 6 and report["switched"] is False
    assert set(report["before"]) == {"loo_top1", "loo_queries", "genuine", "impostor"}
    r = run("reembed", "--model", "fake", "--no-flip", "--switch", "--calibrate", gallery_dir, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["switched"] is True
    assert json.loads(r.stdout)["calibration"].startswith("cleared, not redone")  # too little data for the targets
    assert run("check").exit_code == 0
    r = run("reembed", "--model", "fake", "--no-flip")
    assert r.exit_code == 1 and "already uses" in r.output
    r = run("reembed", "--model", "nosuch")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "unknown encoder 'nosuch'" in r.output
    assert run("reembed", "--model", "fake", "--drop-missing").exit_code == 2  # goes with --switch

    import facesearch.evaluation.calibrate as C

    monkeypatch.setattr(C, "calibrate", lambda gallery, folder: ({"threshold": 0.5, "verification": {"threshold": 0.4}},
                                                                 []))
    r = run("reembed", "--model", "fake", "--switch", "--calibrate", gallery_dir, "--json")  # back to flip
    assert json.loads(r.stdout)["calibration"].startswith("redone on")
