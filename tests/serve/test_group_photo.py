"""A group photo of real faces (FACECOM val photos pasted side by side), shipped model and
real detection: every face named, left to right, by the server and by `query --all-faces`.
Skipped where the data set is absent."""
from __future__ import annotations

import json
import subprocess

import pytest
import requests
from PIL import Image

from tests.serve.conftest import CLI, Server, env
from tests.test_facecom import FACECOM

pytestmark = [pytest.mark.skipif(not (FACECOM / "val").is_dir(), reason="FACECOM data set not present"),
              pytest.mark.slow]  # FACECOM photos through the real models


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """A DB of 8 val identities (shipped model) and a photo of three of them side by side."""
    tmp = tmp_path_factory.mktemp("group")
    people = sorted(p for p in (FACECOM / "val").iterdir() if p.is_dir())[:8]
    root = tmp / "val8"
    root.mkdir()
    for p in people:
        (root / p.name).symlink_to(p)
    db = tmp / "fs.db"
    subprocess.run([*CLI, "index", str(root), "--db", str(db)], env=env(FACESEARCH_RUNTIME="onnx"), check=True,
                   capture_output=True)
    chosen = [people[i] for i in (1, 4, 6)]
    canvas = Image.new("RGB", (3 * 240 + 20, 270), (128, 128, 128))
    for i, person in enumerate(chosen):
        photo = Image.open(sorted(person.glob("*.jpg"))[0]).convert("RGB").resize((224, 224))
        canvas.paste(photo, (10 + 240 * i, 23))
    canvas.save(tmp / "group.jpg", quality=95)
    return db, tmp / "group.jpg", [p.name for p in chosen]


@pytest.mark.slow  # a real server
def test_the_server_names_every_face_left_to_right(group):
    db, photo, names = group
    server = Server(db, environ=env(FACESEARCH_RUNTIME="onnx"))
    try:
        with open(photo, "rb") as f:
            data = f.read()
        r = requests.post(server.url + "/v1/search", params={"all_faces": "true", "k": 3},
                          files={"image": ("group.jpg", data)}, timeout=120)
        assert r.status_code == 200, r.text
        faces = r.json()["faces"]
        assert [f["matches"][0]["identity"] for f in faces] == names
        assert [f["box"][0] for f in faces] == sorted(f["box"][0] for f in faces)
        assert all(f["det_score"] > 0.9 for f in faces)
        one = requests.post(server.url + "/v1/search", files={"image": ("group.jpg", data)}, timeout=120).json()
        assert len(one["faces"]) == 1 and one["faces"][0]["box"] in [f["box"] for f in faces]
    finally:
        server.stop()


def test_query_all_faces_names_every_face(group):
    db, photo, names = group
    r = subprocess.run([*CLI, "query", str(photo), "--db", str(db), "--json", "--all-faces"], env=env(),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert [f["matches"][0]["identity"] for f in line["faces"]] == names
    assert line["matches"][0]["identity"] in names  # the main face: one of them
