"""The bad-input corpus: every case is reported by name, the run goes on, the DB is untouched."""
import json
import os
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facesearch.cli import main
from tests.conftest import person_image


def png_bomb(path):
    """A valid PNG header claiming 60000 x 60000 pixels (Pillow's bomb limit is ~179M)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))


BAD = {  # file name -> expected words in its error line
    "zero.jpg": "empty",
    "truncated.jpg": "decode",
    "text.jpg": "not an image",
    "tiny.png": "too small",
    "bomb.png": "too large",
}


def make_corpus(root):
    """Person folders holding good photos in odd formats plus the BAD files."""
    good = root / "José María"
    good.mkdir(parents=True)
    img = person_image(1, size=64)
    img.convert("RGBA").save(good / "alpha photo.png")
    img.convert("L").save(good / "grey.png")
    img.convert("CMYK").save(good / "cmyk.jpg")
    Image.fromarray((np.asarray(img.convert("L")).astype(np.uint16) * 257)).save(good / "deep16.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    img.rotate(90, expand=True).save(good / "rotated.jpg", exif=exif, quality=98)
    bad = root / "bad"
    bad.mkdir()
    person_image(2).save(bad / "ok.png")
    (bad / "zero.jpg").write_bytes(b"")
    full = bad / "full.jpg"
    person_image(3, size=128).save(full, quality=95)
    (bad / "truncated.jpg").write_bytes(full.read_bytes()[:200])
    full.unlink()
    (bad / "text.jpg").write_text("I am not a photo")
    Image.new("RGB", (1, 1)).save(bad / "tiny.png")
    png_bomb(bad / "bomb.png")
    (root / "empty person").mkdir()
    os.symlink(root, root / "loop")  # a symlink loop back to the gallery root
    return root


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *a: runner.invoke(main, [str(x) for x in a], catch_exceptions=False)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_index_reports_each_bad_file_and_enrols_the_rest(run, corpus, tmp_path):
    r = run("index", corpus, "--model", "fake", "--detector", "none", "--json")
    assert r.exit_code == 1
    errors = error_lines(r.stderr)
    assert len(errors) == len(BAD)
    for name, words in BAD.items():
        assert any(name in e and words in e for e in errors), (name, errors)
    assert "warning:" in r.stderr and "empty person" in r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["added"] == 6 and summary["failed"] == len(BAD)
    people = {json.loads(x)["identity"]: json.loads(x)["photos"] for x in run("people", "--json").stdout.splitlines()}
    assert people == {"José María": 5, "bad": 1}
    # failed files left no trace; a rerun fails the same files and adds nothing
    again = run("index", corpus, "--json")
    assert again.exit_code == 1 and json.loads(again.stdout.splitlines()[-1])["added"] == 0
    assert run("check").exit_code == 0


def test_exif_rotated_photo_is_embedded_upright(run, corpus, tmp_path):
    person_image(1, size=64).save(tmp_path / "upright.png")
    run("index", corpus, "--model", "fake", "--detector", "none")
    score = lambda a, b: json.loads(run("compare", a, b, "--json").stdout)["score"]  # noqa: E731
    upright = score(tmp_path / "upright.png", corpus / "José María" / "rotated.jpg")
    assert upright > 0.99
    Image.open(corpus / "José María" / "rotated.jpg").save(tmp_path / "no_exif.jpg", quality=98)  # exif dropped
    assert score(tmp_path / "upright.png", tmp_path / "no_exif.jpg") < upright


def test_query_and_compare_continue_past_bad_files(run, corpus):
    run("index", corpus, "--model", "fake", "--detector", "none")
    bad = corpus / "bad"
    r = run("query", *(bad / n for n in BAD), bad / "ok.png", "--json")
    assert r.exit_code == 1 and len(error_lines(r.stderr)) == len(BAD)
    lines = [json.loads(x) for x in r.stdout.splitlines()]  # one line per photo, in order
    assert [x["query"] for x in lines] == [str(bad / n) for n in (*BAD, "ok.png")]
    assert all("error" in x for x in lines[:-1]) and "matches" in lines[-1]
    r = run("query", corpus, "--json")  # a folder, walked without following the loop
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.exit_code == 1 and sum("matches" in x for x in lines) == 6
    assert run("query", bad / "ok.png").exit_code == 0
    r = run("compare", corpus, bad / "ok.png")
    assert r.exit_code == 1 and "is a directory" in r.stderr
    r = run("compare", bad / "zero.jpg", bad / "ok.png")
    assert r.exit_code == 1 and "zero.jpg" in r.stderr


def test_calibrate_reports_bad_files(run, corpus, tmp_path):
    labelled = tmp_path / "labelled"
    for i in range(3):
        (labelled / f"p{i}").mkdir(parents=True)
        for j in range(2):
            person_image(i, noise=5, rng_seed=j).save(labelled / f"p{i}" / f"{j}.png")
    (labelled / "p0" / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    run("index", labelled, "--model", "fake", "--detector", "none")
    r = run("calibrate", labelled, "--force")  # 3 people are too few for FAR 1%: forced
    assert r.exit_code == 1 and "broken.jpg" in r.stderr and "threshold" in r.stdout


def test_query_against_db_with_newer_schema_is_refused(run, corpus, tmp_path):
    import sqlite3

    run("index", corpus, "--model", "fake", "--detector", "none")
    with sqlite3.connect(tmp_path / "facesearch.db") as c:
        c.execute("UPDATE alembic_version SET version_num='9999'")
    r = run("query", corpus / "bad" / "ok.png")
    assert r.exit_code == 1 and "newer than this facesearch" in r.stderr


def test_foreign_checkpoint_is_refused(run, corpus, tmp_path):
    import torch

    torch.save({"state": 1}, tmp_path / "foreign.pt")
    r = run("index", corpus, "--model", tmp_path / "foreign.pt")
    assert r.exit_code == 1 and "not a facesearch checkpoint" in r.stderr
