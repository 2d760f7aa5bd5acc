"""`facesearch watch` on synthetic clips: the fake encoder, --detector none (a frame is a face)."""
import json

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from facesearch.errors import SourceError
from facesearch.video.watch import Watch, open_source
from tests.conftest import person_image
from tests.video.conftest import count_frames, write_clip


@pytest.fixture
def enrolled(tmp_path, monkeypatch, gallery_dir):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["index", str(gallery_dir), "--model", "fake", "--detector", "none"])
    assert r.exit_code == 0, r.output
    return tmp_path / "facesearch.db"


@pytest.fixture
def clip(tmp_path):
    """alice, bob, carol: one second each at 25 fps."""
    frames = [person_image(i, size=96) for i in range(3) for _ in range(25)]
    return write_clip(tmp_path / "clip.mp4", frames)


def test_names_three_people_in_order_with_their_spans_and_writes_the_annotated_video(enrolled, clip, tmp_path):
    out = tmp_path / "annotated.mp4"
    r = CliRunner().invoke(main, ["watch", str(clip), "--every", "5", "--threshold", "0.5", "--json",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    frames, summary = lines[:-1], lines[-1]
    assert [f["frame"] for f in frames] == list(range(0, 75, 5)) and frames[1]["time"] == 0.2
    face = frames[0]["faces"][0]
    assert list(face) == ["box", "track", "identity", "score", "accepted"]
    assert face["identity"] == "alice" and face["accepted"] is True and face["box"] == [0, 0, 96, 96]
    assert [e["identity"] for e in summary["summary"]] == ["alice", "bob", "carol"]
    assert [e["spans"] for e in summary["summary"]] == [[[0.0, 0.8]], [[1.0, 1.8]], [[2.0, 2.8]]]
    assert summary["frames_read"] == 75 and summary["frames_processed"] == 15 and not summary["interrupted"]
    assert count_frames(out) == 75


def test_text_output_ends_with_who_was_seen_when(enrolled, clip):
    r = CliRunner().invoke(main, ["watch", str(clip), "--threshold", "0.5"])
    assert r.exit_code == 0, r.output
    assert "75 frames read, 15 processed" in r.stdout and "  bob: 1.0-1.8 s" in r.stdout
    assert "frame 0: #1 alice" in r.stdout


def test_ctrl_c_stops_cleanly_with_the_summary_so_far(enrolled, clip, tmp_path, monkeypatch):
    real, calls = Watch._process, []

    def interrupted(self, *a):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, *a)

    monkeypatch.setattr(Watch, "_process", interrupted)
    out = tmp_path / "partial.mp4"
    r = CliRunner().invoke(main, ["watch", str(clip), "--threshold", "0.5", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["interrupted"] and summary["frames_processed"] == 3
    assert [e["identity"] for e in summary["summary"]] == ["alice"]
    assert count_frames(out) == 15  # the frames before the interrupted one, in a finished file


@pytest.mark.parametrize("make, says", [
    (lambda p: p / "missing.mp4", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "notes.mp4").write_text("not a video") and p / "notes.mp4", "cannot open video source"),
])
def test_a_source_that_cannot_be_opened_is_a_clear_error(enrolled, tmp_path, make, says):
    source = make(tmp_path)
    r = CliRunner().invoke(main, ["watch", str(source)])
    assert r.exit_code == 1 and says in r.stderr and "Traceback" not in r.output
    with pytest.raises(SourceError):
        open_source(str(source))


def test_an_unopenable_webcam_is_a_clear_error():
    with pytest.raises(SourceError, match="cannot open video source 99"):
        open_source("99")


def test_an_unreachable_stream_is_a_clear_error():
    with pytest.raises(SourceError, match="cannot open video source http://127.0.0.1:9/"):
        open_source("http://127.0.0.1:9/live.mp4")  # nothing listens on the discard port


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink", "dotted"])
def test_an_output_that_is_the_source_is_refused(enrolled, clip, tmp_path, link):
    """Issue 23 row 7: `watch clip.mp4 --out clip.mp4` replaced the source with the annotated copy."""
    import os

    before = clip.read_bytes()
    out = {"same": clip, "symlink": tmp_path / "soft.mp4", "hardlink": tmp_path / "hard.mp4",
           "dotted": tmp_path / "." / clip.name}[link]
    if link == "symlink":
        out.symlink_to(clip)
    elif link == "hardlink":
        os.link(clip, out)
    r = CliRunner().invoke(main, ["watch", str(clip), "--out", str(out)])
    assert r.exit_code == 1 and "is the source video itself" in r.stderr and "Traceback" not in r.output
    assert clip.read_bytes() == before


def test_an_output_that_cannot_hold_a_video_is_refused_before_reading(enrolled, clip, tmp_path):
    for out, says in [("/dev/full", "is not a regular file"), (tmp_path / "no" / "out.mp4", "no folder")]:
        r = CliRunner().invoke(main, ["watch", str(clip), "--out", str(out)])
        assert r.exit_code == 1 and says in r.stderr and "Traceback" not in r.output


def test_boxes_on_an_hd_video_are_in_its_own_pixels(tmp_path, monkeypatch, gallery_dir):
    """Issue 23 row 23: frames over 1,024 px are searched on a smaller copy; the boxes printed
    and drawn (--out) were the copy's."""
    import numpy as np

    from tests.stub_detector import expected_box, install
    from tests.video.conftest import cv2

    monkeypatch.chdir(tmp_path)
    install(monkeypatch)
    assert CliRunner().invoke(main, ["index", str(gallery_dir), "--model", "fake"]).exit_code == 0
    w, h = 1280, 720
    clip = write_clip(tmp_path / "hd.mp4", [person_image(0).resize((w, h))] * 3)
    out = tmp_path / "annotated.mp4"
    r = CliRunner().invoke(main, ["watch", str(clip), "--every", "1", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    box = expected_box(w, h)
    assert json.loads(r.stdout.splitlines()[0])["faces"][0]["box"] == pytest.approx(box, abs=0.1)
    cap = cv2.VideoCapture(str(out))
    ok, annotated = cap.read()
    cap.release()
    ok2, plain = cv2.VideoCapture(str(clip)).read()
    assert ok and ok2
    changed = np.abs(annotated.astype(int) - plain.astype(int)).sum(axis=2) > 120  # where a box was drawn
    x1, y1, x2, y2 = (round(v) for v in box)
    ys, xs = np.nonzero(changed)
    assert abs(xs.min() - x1) <= 3 and abs(xs.max() - x2) <= 3 and abs(ys.max() - y2) <= 3
    assert changed[(y1 + y2) // 2, x1 - 1:x1 + 2].any() and changed[(y1 + y2) // 2, x2 - 1:x2 + 2].any()


def test_frames_too_small_for_a_face_are_reported(tmp_path, monkeypatch, gallery_dir):
    """Issue 23 row 17 in `watch`: frames the detector cannot search were passed over silently."""
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["index", str(gallery_dir), "--model", "fake"]).exit_code == 0
    clip = write_clip(tmp_path / "tiny.mp4", [person_image(0, size=24)] * 4)
    r = CliRunner().invoke(main, ["watch", str(clip), "--every", "2", "--json"])
    assert r.exit_code == 1 and "error: 2 frames could not be searched: image too small to find a face in" in r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["frame_errors"] == 2


def test_a_model_switch_while_watching_is_followed(enrolled, clip):
    """`reembed --switch` by another process during a watch: the next frames are embedded
    by the new model (the old one against the new vectors would answer wrongly, silently)."""
    from facesearch.gallery import Gallery
    from facesearch.gallery.library import Library

    gallery = Gallery.open(enrolled)
    flips, names = [], []
    for n, frame in enumerate(Watch(gallery, str(clip), every=25, threshold=0.5).frames()):
        flips.append(gallery.encoder.card.flip)
        names.append(frame.faces[0][0].identity if frame.faces else None)
        if n == 0:
            Library(Gallery.open(enrolled)).reembed("fake", flip=False, switch=True)
    assert flips == [True, False, False] and names == ["alice", "bob", "carol"]
