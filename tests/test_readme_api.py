"""The README's Python API example, run as written: with the shipped model on FACECOM
photos where the data set is present, else with the fake encoder on generated photos (the
one line that opens the gallery then names the fake model)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import person_image
from tests.test_facecom import FACECOM

REPO = Path(__file__).resolve().parents[1]
# The example as the README shows it (README.md, "Python API").
EXAMPLE = '''\
from facesearch import Gallery

gallery = Gallery.open("faces.db", create=True)                 # a new database, the shipped model
gallery.enroll([("ann", "ann.jpg"), ("ben", "ben.jpg")])        # (identity, photo file) pairs
gallery.enroll_photos("cat", [open("cat.jpg", "rb").read()])    # photos as bytes (or PIL images)
print(gallery.people())                                         # [('ann', 1), ('ben', 1), ('cat', 1)]
for result in gallery.identify(["group.jpg"], k=3, all_faces=True):
    for face in result.faces:                                   # every face, left to right
        best = face.matches[0]
        print(face.box, best.identity, round(best.score, 3), face.accepted)
print(gallery.compare("ann.jpg", "ben.jpg"))                    # cosine similarity of two faces
'''
OPEN = 'Gallery.open("faces.db", create=True)'
FAKE_OPEN = 'Gallery.open("faces.db", create=True, model="fake", detector="none")'


def readme_example() -> str | None:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next((b for b in blocks if "from facesearch import Gallery" in b), None)


def photos(folder: Path) -> tuple[str, list[str]]:
    """ann.jpg, ben.jpg, cat.jpg and group.jpg (ann and cat side by side); returns the code
    variant to run and the names expected in group.jpg, left to right."""
    if (FACECOM / "val").is_dir():
        people = sorted(p for p in (FACECOM / "val").iterdir() if p.is_dir())
        ims = [Image.open(sorted(p.glob("*.jpg"))[0]).convert("RGB").resize((224, 224)) for p in people[2:5]]
        for name, im in zip(("ann", "ben", "cat"), ims):
            im.save(folder / f"{name}.jpg", quality=95)
        group = Image.new("RGB", (500, 260), (128, 128, 128))
        group.paste(ims[0], (10, 18))
        group.paste(ims[2], (266, 18))
        group.save(folder / "group.jpg", quality=95)
        return "real", ["ann", "cat"]
    for i, name in enumerate(("ann", "ben", "cat")):
        person_image(i).save(folder / f"{name}.jpg", quality=95)
    person_image(2, noise=6, rng_seed=3).save(folder / "group.jpg", quality=95)  # a face crop: one face
    return "fake", ["cat"]


def run_example(code: str, tmp_path: Path) -> list[str]:
    kind, expected = photos(tmp_path)
    if kind == "fake":
        assert OPEN in code
        code = code.replace(OPEN, FAKE_OPEN)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACESEARCH_PLUGINS": "tests.fake_encoder"}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "[('ann', 1), ('ben', 1), ('cat', 1)]"
    faces = lines[1:-1]
    assert [line.split()[-3] for line in faces] == expected, lines
    assert -1 <= float(lines[-1]) <= 1
    return lines


@pytest.mark.slow  # a Python process with the shipped model (on FACECOM photos where present)
def test_the_python_api_example_runs(tmp_path):
    run_example(EXAMPLE, tmp_path)


def test_the_readme_shows_that_example():
    """The README shows exactly the example the test above runs."""
    assert readme_example() == EXAMPLE
