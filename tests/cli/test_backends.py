"""The CLI on every storage backend: SQLite or PostgreSQL (a throw-away server), with FAISS
or Milvus Lite vectors (tests/conftest.py ``backend``). Same commands, same answers."""
import json

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from tests.cli.test_bad_input import BAD, error_lines, make_corpus
from tests.conftest import person_image


@pytest.fixture
def cli(backend, tmp_path, monkeypatch):
    """``cli(*args)`` on the backend's database ($FACESEARCH_DB); ``cli.index_extra``: its --vectors."""
    db, extra = backend
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACESEARCH_DB", db)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    invoke.index_extra = extra
    return invoke


def test_every_gallery_command(cli, gallery_dir):
    r = cli("index", gallery_dir, "--model", "fake", "--detector", "none", "--json", *cli.index_extra)
    assert r.exit_code == 0 and json.loads(r.stdout)["photos"] == 6
    assert json.loads(cli("index", gallery_dir, "--json").stdout)["added"] == 0  # settings from the DB
    r = cli("query", gallery_dir / "bob" / "distortion", "--k", "2", "--json")
    assert [m["identity"] for m in json.loads(r.stdout)["matches"]][0] == "bob"
    r = cli("compare", gallery_dir / "bob" / "bob_0001.jpg", gallery_dir / "bob" / "bob_0002.png", "--json")
    assert json.loads(r.stdout)["score"] > 0.5
    assert cli("check").exit_code == 0
    assert cli("people", "rename", "bob", "robert").exit_code == 0
    assert "removed carol (2 photos)" in cli("people", "remove", "carol").output
    assert "robert\t2" in cli("people").stdout and cli("check").exit_code == 0
    r = cli("query", gallery_dir / "bob" / "distortion", "--json")
    assert [m["identity"] for m in json.loads(r.stdout)["matches"]] == ["robert", "alice"]  # carol is gone
    assert "4 vectors" in cli("reindex").output and cli("check").exit_code == 0
    r = cli("index", gallery_dir, "--include-distorted", "--prune", "--json")  # carol back, distorted copies added
    assert json.loads(r.stdout)["photos"] == 9 and cli("check").exit_code == 0


def test_index_kinds_are_kept(cli, gallery_dir):
    r = cli("index", gallery_dir, "--model", "fake", "--detector", "none", "--index-type", "hnsw",
            "--ef-search", "40", *cli.index_extra)
    assert r.exit_code == 0
    r = cli("query", gallery_dir / "alice" / "distortion", "--json", "--ef-search", "16")
    assert json.loads(r.stdout)["matches"][0]["identity"] == "alice"
    assert cli("check").exit_code == 0


def test_calibrate_and_eval(cli, tmp_path):
    labelled = tmp_path / "labelled"
    for i in range(6):
        (labelled / f"p{i}" / "distortion").mkdir(parents=True)
        for j in (1, 2):
            person_image(i, noise=4, rng_seed=j).save(labelled / f"p{i}" / f"p{i}_000{j}.png")
            person_image(i, noise=20, rng_seed=10 + j).save(labelled / f"p{i}" / "distortion" / f"p{i}_000{j}_noisy.png")
    assert cli("index", labelled, "--model", "fake", "--detector", "none", *cli.index_extra).exit_code == 0
    r = cli("calibrate", labelled, "--force", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["threshold"] is not None
    r = cli("eval", labelled, "--json")
    assert r.exit_code == 0 and "open_set" in json.loads(r.stdout)
    q = cli("query", labelled / "p3" / "distortion" / "p3_0001_noisy.png", "--json")
    assert json.loads(q.stdout)["accepted"] in (True, False)


def test_bad_input_corpus(cli, tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    r = cli("index", corpus, "--model", "fake", "--detector", "none", "--json", *cli.index_extra)
    assert r.exit_code == 1 and len(error_lines(r.stderr)) == len(BAD)
    assert json.loads(r.stdout.splitlines()[-1])["added"] == 6
    again = cli("index", corpus, "--json")
    assert again.exit_code == 1 and json.loads(again.stdout.splitlines()[-1])["added"] == 0
    bad = corpus / "bad"
    r = cli("query", *(bad / n for n in BAD), bad / "ok.png", "--json")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.exit_code == 1 and all("error" in x for x in lines[:-1]) and lines[-1]["matches"][0]["identity"] == "bad"
    assert cli("check").exit_code == 0
