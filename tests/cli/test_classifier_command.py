"""`facesearch classifier fit|show` and `query --decider svc`: stored beside the DB, never used stale."""
import json
import shutil

import pytest
from click.testing import CliRunner

from facesearch.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch, gallery_dir):
    monkeypatch.chdir(tmp_path)
    invoke = CliRunner().invoke
    r = invoke(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none", "--include-distorted"])
    assert r.exit_code == 0, r.output
    return invoke


def test_fit_then_query_with_svc_adds_probability_and_keeps_the_documented_keys(run, gallery_dir, tmp_path):
    r = run(main, ["classifier", "fit", "--json"])
    assert r.exit_code == 0, r.output
    fitted = json.loads(r.stdout)
    assert fitted["photos"] == 9 and fitted["identities"] == 3 and (tmp_path / "facesearch.svc").is_file()
    q = str(gallery_dir / "bob" / "bob_0002.png")
    nn = json.loads(run(main, ["query", q, "--json", "--threshold", "0.5"]).stdout)
    r = run(main, ["query", q, "--json", "--threshold", "0.5", "--decider", "svc"])
    assert r.exit_code == 0, r.output
    svc = json.loads(r.stdout)
    assert list(svc) == list(nn) and svc["accepted"] is True
    assert [list(m) for m in svc["matches"]] == [["identity", "score", "photo", "probability"]] * 3
    best = svc["matches"][0]
    assert best["identity"] == "bob" and best["score"] == nn["matches"][0]["score"] and 0 < best["probability"] <= 1
    assert "ACCEPTED bob" in run(main, ["query", q, "--decider", "svc", "--threshold", "0.5"]).stdout


def test_query_with_svc_before_fit_is_refused(run, gallery_dir):
    r = run(main, ["query", str(gallery_dir / "bob" / "bob_0002.png"), "--decider", "svc"])
    assert r.exit_code == 1 and "no classifier fitted" in r.stderr and "facesearch classifier fit" in r.stderr


@pytest.mark.parametrize("change", [["people", "rename", "bob", "robert"], ["people", "remove", "carol"]])
def test_a_gallery_changed_after_fit_makes_the_classifier_stale_until_fitted_again(run, gallery_dir, change):
    assert run(main, ["classifier", "fit"]).exit_code == 0
    r = run(main, ["classifier", "show"])
    assert r.exit_code == 0 and "current" in r.stdout and "9 photos of 3 identities" in r.stdout
    assert run(main, change).exit_code == 0
    q = str(gallery_dir / "alice" / "alice_0002.png")
    r = run(main, ["query", q, "--decider", "svc"])
    assert r.exit_code == 1 and "stale" in r.stderr and "changed since it was fitted" in r.stderr
    r = run(main, ["classifier", "show", "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["stale"] is True
    assert run(main, ["classifier", "fit"]).exit_code == 0
    assert run(main, ["query", q, "--decider", "svc"]).exit_code == 0


def test_a_damaged_or_foreign_classifier_file_is_refused(run, gallery_dir, tmp_path):
    assert run(main, ["classifier", "fit"]).exit_code == 0
    q = str(gallery_dir / "alice" / "alice_0002.png")
    other = tmp_path / "other"
    other.mkdir()
    r = run(main, ["index", str(gallery_dir), "--db", str(other / "o.db"), "--model", "fake", "--detector", "none",
                   "--include-distorted"])
    assert r.exit_code == 0, r.output
    shutil.copy(tmp_path / "facesearch.svc", other / "o.svc")
    r = run(main, ["query", q, "--db", str(other / "o.db"), "--decider", "svc"])
    assert r.exit_code == 1 and "another database" in r.stderr
    (tmp_path / "facesearch.svc").write_bytes(b"FACESEARCH-SVC 2\n{}\nnot arrays")
    r = run(main, ["query", q, "--decider", "svc"])
    assert r.exit_code == 1 and "damaged" in r.stderr and "Traceback" not in r.output


def test_a_pickled_classifier_is_never_loaded(run, tmp_path):
    """Issue 23 row 10: the classifier file is data (npz + JSON), never a pickle, which runs code."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (exec, ("open('pwned', 'w').write('x')",))

    (tmp_path / "facesearch.svc").write_bytes(b"FACESEARCH-SVC 1\n{}\n" + pickle.dumps(Boom()))
    r = run(main, ["query", str(tmp_path / "gallery" / "alice" / "alice_0002.png"), "--decider", "svc"])
    assert r.exit_code == 1 and "never loaded" in r.stderr and not (tmp_path / "pwned").exists()
    assert run(main, ["classifier", "fit"]).exit_code == 0
    assert (tmp_path / "facesearch.svc").read_bytes().startswith(b"FACESEARCH-SVC 2\n")


def test_fit_needs_two_identities(run):
    assert run(main, ["people", "remove", "alice"]).exit_code == 0
    assert run(main, ["people", "remove", "bob"]).exit_code == 0
    r = run(main, ["classifier", "fit"])
    assert r.exit_code == 1 and "at least two identities" in r.stderr


def test_a_server_database_keeps_its_classifier_in_the_cache_folder(pg_url, gallery_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FACESEARCH_INDEX_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    invoke = CliRunner().invoke
    assert invoke(main, ["index", str(gallery_dir), "--db", pg_url, "--model", "fake", "--detector", "none"]).exit_code == 0
    r = invoke(main, ["classifier", "fit", "--db", pg_url, "--json"])
    assert r.exit_code == 0, r.output
    path = json.loads(r.stdout)["path"]
    assert path.startswith(str(tmp_path / "cache")) and path.endswith(".svc")
    r = invoke(main, ["query", str(gallery_dir / "bob" / "bob_0002.png"), "--db", pg_url, "--decider", "svc", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["matches"][0]["identity"] == "bob"
    assert not (tmp_path / "postgresql:").exists()
