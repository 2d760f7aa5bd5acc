"""Photos larger than the detector's 1,024 px copy, through the server (issue 23 row 23):
faces are reported in the uploaded photo's own pixels, as the web page draws them. The
detector is tests/stub_detector.py, loaded into the server as a plugin."""
from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from tests.serve.conftest import CLI, Server, env, make_gallery
from tests.stub_detector import expected_box, large_photo

pytestmark = pytest.mark.slow  # a real server


@pytest.fixture(scope="module")
def stub_server(tmp_path_factory):
    import subprocess

    tmp = tmp_path_factory.mktemp("large")
    environ = env(FACESEARCH_PLUGINS="tests.fake_encoder,tests.stub_detector")
    db = tmp / "fs.db"
    subprocess.run([*CLI, "index", str(make_gallery(tmp / "gallery")), "--db", str(db), "--model", "fake"],
                   env=environ, capture_output=True, text=True, check=True)
    server = Server(db, environ=environ)
    yield server, tmp
    server.stop()


def test_search_reports_boxes_in_the_uploaded_photos_pixels(stub_server):
    server, tmp = stub_server
    for size in [(2280, 1588), (1200, 3000)]:
        photo = large_photo(tmp / f"large{size}.jpg", size)
        with open(photo, "rb") as f:
            r = requests.post(server.url + "/v1/search", params={"all_faces": "true"},
                              files={"image": (photo.name, f, "image/jpeg")}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["faces"][0]["box"] == pytest.approx(expected_box(*size), abs=0.1)


def test_compare_says_whether_a_face_was_found_in_each_photo(stub_server):
    """Issue 23 row 24, over HTTP: a score alone did not say that no face was compared."""
    server, tmp = stub_server
    photo = large_photo(tmp / "face.jpg", (300, 200))
    with open(photo, "rb") as f:
        data = f.read()
    blank = io.BytesIO()
    Image.new("RGB", (300, 200), (255, 255, 255)).save(blank, "PNG")
    for b, found in ((data, True), (blank.getvalue(), False)):
        r = requests.post(server.url + "/v1/compare", files={"image_a": ("a.jpg", data), "image_b": ("b.png", b)},
                          timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["face_found"] == {"a": True, "b": found}


def test_a_photo_too_small_for_a_face_and_a_nan_threshold_are_refused(stub_server):
    """Issue 23 rows 17 and 20 over HTTP: one clear 4xx each."""
    server, _ = stub_server
    tiny = io.BytesIO()
    Image.new("RGB", (30, 30), (120, 100, 90)).save(tiny, "PNG")
    r = requests.post(server.url + "/v1/search", files={"image": ("tiny.png", tiny.getvalue())}, timeout=60)
    assert r.status_code == 422 and "image too small to find a face in (30x30 px" in r.text, r.text
    photo = large_photo(stub_server[1] / "ok.jpg", (300, 200))
    for value in ("nan", "inf"):
        with open(photo, "rb") as f:
            r = requests.post(server.url + "/v1/search", params={"threshold": value}, files={"image": ("a.jpg", f)},
                              timeout=60)
        assert r.status_code == 400 and "threshold" in r.json()["error"]["message"], (value, r.text)
