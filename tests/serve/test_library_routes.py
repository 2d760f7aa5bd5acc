"""The library's REST routes (clusters, corrections, erasure, audit log, reembed) on a real
server with a token, on SQLite + FAISS and PostgreSQL + Milvus Lite: the audit log names the
token by its id, never the token."""
from __future__ import annotations

import hashlib
import io
import subprocess

import pytest
import requests
from PIL import Image

from facesearch.gallery import Gallery
from tests.gallery.test_library import THRESHOLD, make_photos
from tests.serve.conftest import CLI, Server, env, index, make_gallery
from tests.serve.test_app import assert_error, png
from tests.serve.test_reembed_routes import post, wait

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=[pytest.param("sqlite-faiss"), pytest.param("postgres-milvus", marks=pytest.mark.slow)])
def library_server(request, tmp_path):
    """A server with a token over a clustered library, on SQLite + FAISS and PostgreSQL + Milvus Lite."""
    database, vectors = request.param.split("-")
    db = request.getfixturevalue("pg_url") if database == "postgres" else str(tmp_path / "fs.db")
    extra = ["--vectors", request.getfixturevalue("milvus_spec")] if vectors == "milvus" else []
    index(make_gallery(tmp_path / "gallery"), db, *extra)
    Gallery.open(db).set_threshold(0.5, {})
    make_photos(tmp_path / "library", range(5))
    subprocess.run([*CLI, "cluster", str(tmp_path / "library"), "--db", db, "--threshold", str(THRESHOLD)],
                   env=env(), check=True, capture_output=True)
    server = Server(db, "--token", TOKEN, log=tmp_path / "server.log")
    yield server, tmp_path
    server.stop()


def search(server, data: bytes):
    r = requests.post(server.url + "/v1/search", files={"image": ("q.png", data, "image/png")}, headers=AUTH,
                      timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["faces"][0]


def test_clusters_corrections_erase_and_audit(library_server):
    server, tmp = library_server
    url = server.url + "/v1"
    assert requests.get(url + "/clusters", timeout=30).status_code == 401
    clusters = requests.get(url + "/clusters", headers=AUTH, timeout=30).json()["clusters"]
    assert len(clusters) == 5 and all(len(c["faces"]) == 3 for c in clusters)
    assert all("/" not in f["photo"] for c in clusters for f in c["faces"])  # file names, not server paths
    p4 = next(c["cluster"] for c in clusters if c["faces"][0]["photo"].endswith(("p4_0.png", "p4_1.png", "p4_2.png")))
    r = requests.post(url + f"/clusters/{p4}/name", json={"name": "dave"}, headers=AUTH, timeout=60)
    assert r.status_code == 200 and r.json() == {"cluster": p4, "identity": "dave", "added": 3}
    assert_error(requests.post(url + "/clusters/999/name", json={"name": "x"}, headers=AUTH, timeout=30),
                 404, "not_found")
    for bad, code in (({"name": "  "}, "refused"), ({"name": "a\x00b"}, "refused"), ({}, "bad_request")):
        assert_error(requests.post(url + f"/clusters/{p4}/name", json=bad, headers=AUTH, timeout=30), 400, code)
    assert_error(requests.get(url + "/audit", params={"limit": 0}, headers=AUTH, timeout=30), 400, "bad_request")
    assert_error(requests.post(url + "/feedback", params={"not_identity": "carol", "face": 5}, headers=AUTH,
                               timeout=30, files={"image": ("x.png", png(3), "image/png")}), 400, "refused")

    face = clusters[0]["faces"][0]
    r = requests.get(url + f"/library/faces/{face['id']}/thumbnail", headers=AUTH, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (64, 64)  # no box (--detector none): the whole photo
    assert_error(requests.get(url + "/library/faces/9999/thumbnail", headers=AUTH, timeout=30), 404, "not_found")
    page = requests.get(server.url + "/clusters", timeout=30)
    assert page.status_code == 200 and "clusters.js" in page.text
    assert "/v1/clusters" in requests.get(server.url + "/static/clusters.js", timeout=30).text
    assert "function api(" in requests.get(server.url + "/static/common.js", timeout=30).text  # shared with /

    files = [("image", ("new4.png", png(4, noise=10, rng_seed=40), "image/png")),
             ("image", ("broken.png", b"not an image", "image/png"))]
    r = requests.post(url + "/clusters", files=files, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["faces"] == [{"photo": "new4.png", "face": 0, "box": None, "cluster": p4, "identity": "dave"}]
    assert body["summary"]["embedded"] == 1 and [e["photo"] for e in body["errors"]] == ["broken.png"]

    stranger = png(3, noise=10, rng_seed=70)
    assert search(server, stranger)["accepted"] is True  # named carol
    r = requests.post(url + "/feedback", params={"not_identity": "carol"}, headers=AUTH, timeout=60,
                      files={"image": ("p3.png", (tmp / "library" / "p3_0.png").read_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert [f["id"] for f in requests.get(url + "/feedback", headers=AUTH, timeout=30).json()["feedback"]] == [fid]
    face = search(server, stranger)
    assert face["matches"][0]["identity"] == "carol" and face["accepted"] is False
    assert search(server, png(2, noise=10, rng_seed=70))["accepted"] is True  # carol herself
    assert requests.delete(url + f"/feedback/{fid}", headers=AUTH, timeout=30).status_code == 204
    assert search(server, stranger)["accepted"] is True
    assert_error(requests.delete(url + f"/feedback/{fid}", headers=AUTH, timeout=30), 404, "not_found")
    assert_error(requests.post(url + "/feedback", params={"not_identity": "nobody"}, headers=AUTH, timeout=30,
                               files={"image": ("x.png", png(3), "image/png")}), 404, "not_found")

    r = requests.post(url + "/people/dave/erase", headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["photos"] == 3 and r.json()["library_faces"] == 4  # the uploaded face joined dave's cluster
    assert "dave" not in {p["identity"] for p in requests.get(url + "/people", headers=AUTH, timeout=30).json()["people"]}
    assert_error(requests.post(url + "/people/dave/erase", headers=AUTH, timeout=30), 404, "not_found")

    log = requests.get(url + "/audit", headers=AUTH, timeout=30)
    assert TOKEN not in log.text
    entries = log.json()["audit"]
    me = "api:token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:8]
    assert {a["action"] for a in entries if a["actor"] == me} == {"enrol", "cluster", "feedback", "feedback_undo",
                                                                   "remove", "erase"}
    clustered = next(a for a in entries if a["action"] == "cluster")  # the first: `facesearch cluster`
    assert clustered["actor"].startswith("cli:") and clustered["actor"].endswith("cluster run")
    assert [a["id"] for a in requests.get(url + "/audit", params={"limit": 1}, headers=AUTH, timeout=30)
            .json()["audit"]] == [entries[-1]["id"]]

    done = wait(server.url, post(server.url, model="fake", flip=False, switch=True).json())  # the model change
    assert done["state"] == "done" and done["report"]["switched"] and done["report"]["photos"] == 6
    assert search(server, png(1, noise=10, rng_seed=70))["matches"][0]["identity"] == "bob"
    assert requests.get(url + "/health", headers=AUTH, timeout=30).json()["encoder"]["flip"] is False
