"""Hardening (issue 12): names, ignored files, odd arguments and interruptions give one
clear line and the right exit code, never a traceback or a silent nothing."""
import json
import os
import unicodedata

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from tests.conftest import person_image


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        r = CliRunner().invoke(main, [str(a) for a in args])
        assert "Traceback" not in r.output and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
        return r

    return invoke


def index(run, gallery, *extra):
    return run("index", gallery, "--model", "fake", "--detector", "none", *extra)


def test_non_utf8_file_names_are_errors_and_the_rest_is_enrolled(run, gallery_dir):
    bad = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not UTF-8
    person_image(30).save(gallery_dir / "alice" / bad)
    r = index(run, gallery_dir, "--json")
    assert r.exit_code == 1 and "caf\\udce9.png: its name is not valid UTF-8" in r.stderr
    assert json.loads(r.stdout)["added"] == 6
    q = run("query", gallery_dir / "alice" / bad)
    assert q.exit_code == 0 and "caf\\udce9.png" in q.stdout


def test_identity_names_are_checked_and_normalised(run, gallery_dir):
    nfd = unicodedata.normalize("NFD", "café")
    for name in ("café", nfd):
        (gallery_dir / name).mkdir()
    person_image(31).save(gallery_dir / "café" / "1.png")
    person_image(32).save(gallery_dir / nfd / "2.png")
    (gallery_dir / "bad\x1b[31mname").mkdir()
    person_image(33).save(gallery_dir / "bad\x1b[31mname" / "1.png")
    r = index(run, gallery_dir)
    assert r.exit_code == 0 and "bad\\x1b[31mname: ignored: identity name" in r.stderr
    people = dict(line.split("\t") for line in run("people").stdout.splitlines())
    assert people["café"] == "2" and len(people) == 4
    for new in ("", " ", "tab\there", "new\nline"):
        r = run("people", "rename", "bob", new)
        assert r.exit_code == 1 and "error: " in r.stderr and "identity name" in r.stderr
    r = run("people", "rename", "bob", "Bobby", "--json")
    assert json.loads(r.stdout) == {"renamed": "bob", "to": "Bobby"}
    assert json.loads(run("people", "--json", "remove", "Bobby").stdout) == {"removed": "Bobby", "photos": 2}


def test_what_is_not_enrolled_is_named(run, tmp_path, gallery_dir):
    (gallery_dir / "stray.jpg").write_bytes((gallery_dir / "bob" / "bob_0001.jpg").read_bytes())
    (gallery_dir / "bob" / "nested").mkdir()
    person_image(40).save(gallery_dir / "bob" / "nested" / "deep.png")
    (gallery_dir / "bob" / ".hidden.png").write_bytes(b"x")
    (gallery_dir / "bob" / "notes.txt").write_text("hi")
    (gallery_dir / "bob" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (gallery_dir / "empty").mkdir()
    r = index(run, gallery_dir, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ignored"] == 5
    for what, why in [("stray.jpg", "not in a person folder"), ("nested", "a folder inside a person folder"),
                      (".hidden.png", "hidden"), ("notes.txt", "not an image file name"), ("gone.png", "broken link")]:
        assert f"{what}: ignored: {why}" in r.stderr
    assert "empty: no photos, identity not enrolled" in r.stderr and "3 photos in distortion/" in r.stderr


def test_query_of_a_folder_without_photos_fails(run, tmp_path, gallery_dir):
    index(run, gallery_dir)
    (tmp_path / "nothing").mkdir()
    r = run("query", tmp_path / "nothing", "--json")
    assert r.exit_code == 1 and "nothing: no photos in this folder" in r.stderr


def test_odd_options_are_refused(run, gallery_dir):
    index(run, gallery_dir)
    photo = gallery_dir / "bob" / "bob_0001.jpg"
    for value in ("nan", "inf"):
        r = run("query", photo, "--threshold", value)
        assert r.exit_code == 2 and "must be a finite number" in r.output
    r = run("index", gallery_dir, "--no-flip")
    assert r.exit_code == 1 and "--no-flip only applies to a new database" in r.stderr


def test_ctrl_c_says_what_was_saved(run, gallery_dir, monkeypatch):
    from facesearch.gallery.enrolment import Enrolment

    real = Enrolment.store_batch

    def interrupted(self, *args):
        real(self, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(Enrolment, "store_batch", interrupted)
    r = index(run, gallery_dir)
    assert r.exit_code == 130 and "interrupted: 6 photos were saved" in r.stderr
    monkeypatch.setattr(Enrolment, "store_batch", real)
    assert json.loads(index(run, gallery_dir, "--json").stdout)["skipped"] == 6
    assert run("check").exit_code == 0


def test_a_photo_too_small_for_a_face_fails_alone(run, gallery_dir):
    """Issue 23 row 17: a 30 x 30 photo stopped `index` (0 of the good photos enrolled) and
    `query` with a ValueError from the detector's image pyramid."""
    from PIL import Image

    Image.new("RGB", (30, 30), (120, 100, 90)).save(gallery_dir / "bob" / "tiny.png")
    Image.new("RGB", (10, 500), (120, 100, 90)).save(gallery_dir / "strip.png")
    r = run("index", gallery_dir, "--model", "fake", "--json")
    assert r.exit_code == 1 and "tiny.png: image too small to find a face in (30x30 px" in r.stderr
    assert json.loads(r.stdout)["added"] == 6
    q = run("query", gallery_dir / "strip.png", gallery_dir / "bob" / "bob_0001.jpg", "--json")
    assert q.exit_code == 1 and "strip.png: image too small to find a face in (10x500 px" in q.stderr
    assert [list(json.loads(line))[:2] for line in q.stdout.splitlines()] == [["query", "error"], ["query", "matches"]]


def test_outputs_that_cannot_be_written_are_one_error_line(run, gallery_dir, tmp_path):
    """Issue 23 row 19: `eval --report /dev/full` was an OSError traceback; the same for every
    file or folder a command is told to write."""
    index(run, gallery_dir)
    (tmp_path / "file").write_text("not a folder")
    r = run("eval", gallery_dir, "--report", "/dev/full")
    assert r.exit_code == 1 and "error: cannot write /dev/full: No space left on device" in r.stderr
    assert "# " in r.stdout  # the report itself was printed first: nothing lost
    for args in (["eval", gallery_dir, "--plots", tmp_path / "file" / "plots"],
                 ["eval", gallery_dir, "--report", tmp_path / "file" / "r.md"],
                 ["calibrate", gallery_dir, "--force", "--plots", tmp_path / "file" / "plots"],
                 ["train", gallery_dir, "--encoder", "fake", "--out", tmp_path / "file" / "run"],
                 ["train", "--task", "gender", gallery_dir, "--out", tmp_path / "file" / "run"]):
        r = run(*args)
        assert r.exit_code == 1 and f"error: cannot write {tmp_path / 'file'}" in r.stderr, (args, r.output)
    r = run("eval", gallery_dir, "--report", tmp_path / "r.json")
    assert r.exit_code == 1 and "name the report .md" in r.stderr


@pytest.mark.slow  # three CLI processes
def test_a_standard_output_that_cannot_be_written_is_one_error_line(gallery_dir, tmp_path):
    import subprocess
    import sys

    from tests.serve.conftest import env

    db = tmp_path / "fs.db"
    subprocess.run([sys.executable, "-m", "facesearch.cli", "index", gallery_dir, "--db", db, "--model", "fake",
                    "--detector", "none"], env=env(), check=True, capture_output=True)
    for args in (["people"], ["query", gallery_dir / "bob" / "bob_0001.jpg", "--json"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, "-m", "facesearch.cli", *args, "--db", db], env=env(), stdout=full,
                               stderr=subprocess.PIPE, text=True)
        assert r.returncode == 1 and r.stderr == "error: cannot write the output: No space left on device\n", r.stderr


def test_prune_never_removes_a_folder_that_cannot_be_read(run, gallery_dir, monkeypatch):
    """Issue 23 row 6: a person folder that could be entered but not listed (mode 0311) was
    walked as empty, and `index --prune` deleted the person and their photos (exit 0)."""
    from tests.photos.test_scan import unreadable

    index(run, gallery_dir, "--include-distorted")
    with monkeypatch.context() as m:
        unreadable(m, gallery_dir / "bob", gallery_dir / "carol" / "distortion")
        r = index(run, gallery_dir, "--include-distorted", "--prune", "--json")
    assert r.exit_code == 1 and f"error: {gallery_dir / 'bob'}: cannot read this folder (Permission denied)" in r.stderr
    assert "no photos" not in r.stderr and json.loads(r.stdout)["removed"] == 0
    assert "bob\t3" in run("people").stdout and "carol\t3" in run("people").stdout
    with monkeypatch.context() as m:
        unreadable(m, gallery_dir)
        r = index(run, gallery_dir, "--prune", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["removed"] == 0
    (gallery_dir / "alice" / "alice_0002.png").unlink()  # pruning still works where folders can be read
    assert json.loads(index(run, gallery_dir, "--include-distorted", "--prune", "--json").stdout)["removed"] == 1


def modes_apply(folder) -> bool:
    """Whether folder permissions bind this process (not for root, unless it dropped CAP_DAC_*)."""
    folder.mkdir()
    folder.chmod(0)
    try:
        os.listdir(folder)
        return False
    except PermissionError:
        return True
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("mode", [0o311, 0o000, 0o600])
def test_prune_keeps_a_person_folder_without_permissions_for_real(run, gallery_dir, tmp_path, mode):
    if not modes_apply(tmp_path / "probe"):
        pytest.skip("folder permissions do not bind this process (root reads every folder)")
    index(run, gallery_dir)
    (gallery_dir / "bob").chmod(mode)
    try:
        r = index(run, gallery_dir, "--prune", "--json")
    finally:
        (gallery_dir / "bob").chmod(0o755)
    assert r.exit_code == 1 and "bob: cannot read this folder" in r.stderr
    assert json.loads(r.stdout)["removed"] == 0 and "bob\t2" in run("people").stdout


def test_outputs_inside_the_data_folder_are_refused(run, gallery_dir):
    """Issue 23 row 7, variant: plots written into a person folder would be enrolled as photos."""
    index(run, gallery_dir)
    for args in (["eval", gallery_dir, "--plots", gallery_dir / "bob"],
                 ["eval", gallery_dir, "--report", gallery_dir / "bob" / "bob_0001.jpg"],
                 ["calibrate", gallery_dir, "--plots", gallery_dir / "plots"],
                 ["train", "--task", "gender", gallery_dir, "--out", gallery_dir / "bob"]):
        r = run(*args)
        assert r.exit_code == 1 and "is inside the data folder" in r.stderr, (args, r.output)
    assert sorted(p.name for p in (gallery_dir / "bob").iterdir()) == ["bob_0001.jpg", "bob_0002.png", "distortion"]


def test_prune_keeps_a_photo_that_cannot_be_reached(run, gallery_dir, monkeypatch):
    import errno

    photo = str(gallery_dir / "bob" / "bob_0001.jpg")
    index(run, gallery_dir)
    real = os.stat

    def stat(path, *args, follow_symlinks=True, **kwargs):
        if follow_symlinks and os.fspath(path) == photo:
            raise PermissionError(errno.EACCES, "Permission denied", photo)
        return real(path, *args, follow_symlinks=follow_symlinks, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(os, "stat", stat)
        r = index(run, gallery_dir, "--prune", "--json")
    assert r.exit_code == 1 and "bob_0001.jpg: cannot read it (Permission denied)" in r.stderr
    assert json.loads(r.stdout)["removed"] == 0 and "bob\t2" in run("people").stdout
