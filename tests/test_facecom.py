"""Checks on real photos from ../shared/data/facecom; skipped where the data set is absent."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facesearch.cli import main

FACECOM = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "facecom"
pytestmark = [pytest.mark.skipif(not (FACECOM / "val").is_dir(), reason="FACECOM data set not present"),
              pytest.mark.slow]  # FACECOM photos through the real models


@pytest.fixture
def small_val(tmp_path):
    people = sorted(p for p in (FACECOM / "val").iterdir() if p.is_dir())[:12]
    root = tmp_path / "val12"
    root.mkdir()
    for p in people:
        (root / p.name).symlink_to(p)
    return root


def test_shipped_model_identifies_distorted_val_photos(small_val, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    r = run(main, ["index", str(small_val)])
    assert r.exit_code == 0, r.output
    queries = sorted(small_val.glob("*/distortion/*.jpg"))
    r = run(main, ["query", *map(str, queries), "--k", "5", "--json"])
    assert r.exit_code == 0
    results = [json.loads(line) for line in r.stdout.splitlines()]
    truth = [Path(q).parent.parent.name for q in queries]
    top1 = np.mean([res["matches"][0]["identity"] == t for res, t in zip(results, truth)])
    assert top1 >= 0.9, top1


def test_two_faces_pick_the_largest_and_count_both(tmp_path):
    from facesearch.faces.detect import Aligner

    a, b = sorted((FACECOM / "val").glob("*/*.jpg"))[:2]
    big, small = Image.open(a).convert("RGB"), Image.open(b).convert("RGB").resize((150, 150))
    canvas = Image.new("RGB", (448, 260), (128, 128, 128))
    canvas.paste(big, (10, 18))
    canvas.paste(small, (280, 55))
    face = Aligner(112).align([canvas])[0]
    assert face.detected and face.n_faces == 2
    assert face.box[2] < 240  # the larger face, on the left
