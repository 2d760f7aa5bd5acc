"""`facesearch serve` on a new database: it starts empty, and the API enrols into it."""
import io

import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import Server, env

pytestmark = pytest.mark.slow  # a real server


def png(seed) -> bytes:
    buf = io.BytesIO()
    person_image(seed).save(buf, "PNG")
    return buf.getvalue()


def test_serve_a_new_database_and_enrol_through_the_api(tmp_path):
    db = tmp_path / "new.db"
    server = Server(db, "--model", "fake", "--detector", "none", environ=env())
    try:
        health = requests.get(server.url + "/v1/health", timeout=30).json()
        assert (health["identities"], health["photos"], health["detector"]) == (0, 0, "none")
        empty = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(1))}, timeout=30).json()
        assert empty["faces"][0]["matches"] == []
        r = requests.post(server.url + "/v1/people/zoe/photos", files={"image": ("z.png", png(1))}, timeout=30)
        assert r.status_code == 201
        hit = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(1))}, timeout=30).json()
        assert hit["faces"][0]["matches"][0]["identity"] == "zoe"
        assert "new, empty gallery" in server.output() and "no token" in server.output()
    finally:
        server.stop()
    assert db.exists() and db.with_suffix(".faiss").exists()
