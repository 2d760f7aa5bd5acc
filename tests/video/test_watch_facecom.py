"""`facesearch watch` with the shipped model on a clip of three enrolled FACECOM val people,
shown one after another (blurred copies of their photos); skipped without the data set."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facesearch.cli import main
from tests.video.conftest import write_clip

FACECOM = Path(__file__).resolve().parents[3] / "shared" / "data" / "facecom"
pytestmark = [pytest.mark.skipif(not (FACECOM / "val").is_dir(), reason="FACECOM data set not present"),
              pytest.mark.slow]  # FACECOM photos through the real models


def frame(photo: Path | None, shift: int) -> Image.Image:
    """A 320x240 grey frame with ``photo`` (180 px) drifting ``shift`` pixels right."""
    img = Image.new("RGB", (320, 240), (90, 90, 90))
    if photo is not None:
        img.paste(Image.open(photo).convert("RGB").resize((180, 180)), (40 + shift, 30))
    return img


def test_watch_names_three_enrolled_people_in_order_with_their_time_spans(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    people = sorted(p for p in (FACECOM / "val").iterdir() if p.is_dir())[:3]
    gallery = tmp_path / "gallery"
    for p in people:
        (gallery / p.name).mkdir(parents=True)
        for f in p.glob("*.jpg"):
            (gallery / p.name / f.name).symlink_to(f)
    run = CliRunner().invoke
    assert run(main, ["index", str(gallery)]).exit_code == 0
    shown = [sorted((p / "distortion").glob("*_blurred.jpg"))[0] for p in people]
    gap = [frame(None, 0)] * 15  # 0.6 s: three processed frames without a face end a track
    frames = gap + [f for photo in shown for f in [frame(photo, i) for i in range(25)] + gap]
    clip = write_clip(tmp_path / "three.mp4", frames)
    r = run(main, ["watch", str(clip), "--every", "5", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.splitlines()[-1])
    assert [e["identity"] for e in summary["summary"]] == [p.name for p in people]
    starts = [e["spans"][0][0] for e in summary["summary"]]
    assert np.allclose(starts, [0.6, 2.2, 3.8]) and summary["unknown_tracks"] == 0
