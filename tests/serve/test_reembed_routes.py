"""`POST /v1/reembed`: a background job on a real server with a token (fake encoder: flip-
averaged -> not, two different cards), its status route, refusals, the switch the server
follows, and a switch by the CLI the server follows too."""
from __future__ import annotations

import hashlib
import subprocess
import threading
import time

import pytest
import requests

from facesearch.gallery import Gallery
from tests.serve.conftest import CLI, Server, env, index, make_gallery
from tests.serve.test_app import assert_error, png

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait(url: str, job: dict, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(url + job["status_url"], headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        if r.json()["state"] != "running":
            return r.json()
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.1)


def post(url: str, **body) -> requests.Response:
    return requests.post(url + "/v1/reembed", json=body, headers=AUTH, timeout=60)


def top(url: str, seed: int) -> str:
    r = requests.post(url + "/v1/search", files={"image": ("q.png", png(seed, 5, 3))}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["faces"][0]["matches"][0]["identity"]


def flip(url: str) -> bool:
    return requests.get(url + "/v1/health", headers=AUTH, timeout=30).json()["encoder"]["flip"]


@pytest.mark.slow  # a real server
def test_reembed_job_reports_switches_and_the_server_follows(tmp_path):
    gallery = make_gallery(tmp_path / "gallery")
    db = tmp_path / "fs.db"
    index(gallery, db)
    carol = gallery / "carol" / "carol_2.png"
    kept = carol.read_bytes()
    carol.unlink()  # a missing file: reported, and it blocks the switch
    server = Server(db, "--token", TOKEN)
    url = server.url
    try:
        assert requests.post(url + "/v1/reembed", json={"model": "fake"}, timeout=30).status_code == 401
        assert_error(post(url, model="nosuch"), 400, "refused")
        assert_error(post(url, model=str(tmp_path / "fs.db")), 400, "refused")  # a file: the CLI's
        assert_error(post(url, model="fake"), 400, "refused")  # the model it uses already
        assert "already uses" in post(url, model="fake").json()["error"]["message"]
        assert_error(requests.post(url + "/v1/reembed", json={}, headers=AUTH, timeout=30), 400, "bad_request")
        assert_error(requests.get(url + "/v1/reembed/99", headers=AUTH, timeout=30), 404, "not_found")

        r = post(url, model="fake", flip=False)
        assert r.status_code == 202, r.text
        assert r.headers["Location"] == r.json()["status_url"] == f"/v1/reembed/{r.json()['job']}"
        done = wait(url, r.json())
        assert done["state"] == "done" and done["photos"] == 6 and done["embedded"] == 5
        report = done["report"]
        assert report["photos"] == 6 and report["embedded_now"] == 5 and report["switched"] is False
        assert report["missing"] == [{"photo": "carol_2.png", "error": report["missing"][0]["error"]}]  # no path
        assert set(report["before"]) == {"loo_top1", "loo_queries", "genuine", "impostor"}

        failed = wait(url, post(url, model="fake", flip=False, switch=True).json())
        assert failed["state"] == "failed" and failed["error"]["code"] == "refused"
        assert "no new embedding" in failed["error"]["message"] and str(tmp_path) not in failed["error"]["message"]
        assert flip(url) is True and top(url, 2) == "carol"  # the old model still answers

        carol.write_bytes(kept)
        done = wait(url, post(url, model="fake", flip=False, switch=True).json())
        assert done["state"] == "done" and done["report"]["switched"] is True
        assert done["report"]["resumed"] == 5 and done["report"]["embedded_now"] == 1  # resumed
        assert "calibrate" in done["report"]["calibration"]
        assert flip(url) is False and top(url, 2) == "carol"  # the server searches with the new model
        assert [j["state"] for j in requests.get(url + "/v1/reembed", headers=AUTH, timeout=30).json()["jobs"]] \
            == ["done", "failed", "done"]

        # another process switches back: the server follows it on its next request
        subprocess.run([*CLI, "reembed", "--db", str(db), "--model", "fake", "--switch"], env=env(), check=True,
                       capture_output=True)
        assert top(url, 1) == "bob" and flip(url) is True
        r = requests.post(url + "/v1/people/dan/photos", files={"image": ("d.png", png(7))}, headers=AUTH, timeout=60)
        assert r.status_code == 201, r.text
        assert top(url, 7) == "dan" and Gallery.open(db).check() == []

        log = requests.get(url + "/v1/audit", headers=AUTH, timeout=30).json()["audit"]
        me = "api:token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:8]
        assert [a["actor"] for a in log if a["action"] == "reembed_switch"][0] == me  # the job names its token
        assert {a["action"] for a in log if a["actor"] == me} >= {"reembed", "reembed_switch", "enrol"}
    finally:
        server.stop()


def test_one_job_at_a_time(tmp_path, monkeypatch):
    """A second job while one runs: 409 (in process, the first job held until released)."""
    from facesearch.errors import ConflictError
    from facesearch.serve import reembed_routes
    from facesearch.serve.app import Service
    from facesearch.serve.reembed_routes import Reembedding, ReembedRequest

    index(make_gallery(tmp_path / "gallery"), tmp_path / "fs.db", environ=env())
    release = threading.Event()

    def held(gallery, encoder, progress=None):
        release.wait(30)
        raise RuntimeError("a bug")

    monkeypatch.setattr(reembed_routes, "reembed", held)
    jobs = Reembedding(Service(Gallery.open(tmp_path / "fs.db")))
    first = jobs.start(ReembedRequest(model="fake", flip=False))
    with pytest.raises(ConflictError, match=f"reembed job {first.id} is running"):
        jobs.start(ReembedRequest(model="fake", flip=False))
    release.set()
    deadline = time.monotonic() + 30
    while first.state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.state == "failed" and first.error["code"] == "internal_error" and "a bug" not in first.error["message"]
    assert jobs.start(ReembedRequest(model="fake", flip=False)).id == first.id + 1  # free again
