"""The token, the upload limit, and failures that must never show a traceback."""
from __future__ import annotations

import io
import os
import threading
import time

import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import Server, env, free_port, index, make_gallery

pytestmark = pytest.mark.slow  # real servers

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server with a token (from $FACESEARCH_API_TOKEN) and a 0.5 MB upload limit."""
    tmp = tmp_path_factory.mktemp("guarded")
    db = tmp / "fs.db"
    index(make_gallery(tmp / "gallery"), db)
    server = Server(db, "--max-upload-mb", "0.5", environ=env(FACESEARCH_API_TOKEN=TOKEN))
    yield server
    server.stop()


def small_png() -> bytes:
    buf = io.BytesIO()
    person_image(0, noise=5, rng_seed=3).save(buf, "PNG")
    return buf.getvalue()


def test_token_required_on_every_v1_route(guarded):
    url = guarded.url
    for method, path in [("get", "/v1/health"), ("get", "/v1/people"), ("post", "/v1/search"),
                         ("post", "/v1/compare"), ("post", "/v1/people/x/photos"), ("patch", "/v1/people/x"),
                         ("delete", "/v1/people/x"), ("delete", "/v1/photos/1"), ("get", "/v1/people/x/photos")]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"X-API-Key": "nope"}):
            r = requests.request(method, url + path, headers=headers, timeout=30)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["error"]["code"] == "unauthorized" and r.headers["WWW-Authenticate"] == "Bearer"
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(url + "/v1/health", headers=ok, timeout=30).status_code == 200
    assert requests.get(url + "/v1/people", headers={"X-API-Key": TOKEN}, timeout=30).status_code == 200
    r = requests.post(url + "/v1/search", headers=ok, files={"image": ("a.png", small_png())}, timeout=30)
    assert r.json()["faces"][0]["matches"][0]["identity"] == "alice"
    # the page and the API description stay open (the page asks for the token)
    assert requests.get(url + "/", timeout=30).status_code == 200
    spec = requests.get(url + "/openapi.json", timeout=30).json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])


def test_an_oversized_upload_is_refused_without_reading_it(guarded):
    ok = {"Authorization": f"Bearer {TOKEN}"}
    big = os.urandom(3 << 20)
    start = time.monotonic()
    r = requests.post(guarded.url + "/v1/search", headers=ok, files={"image": ("big.jpg", big)}, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text
    assert "0.5 MB" in r.json()["error"]["message"]
    assert time.monotonic() - start < 10

    def chunks():  # no Content-Length: the server counts while it reads, and stops at the limit
        yield b'--xx\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
        for _ in range(8):
            yield os.urandom(256 << 10)
        yield b"\r\n--xx--\r\n"

    r = requests.post(guarded.url + "/v1/search", data=chunks(), timeout=30,
                      headers={**ok, "Content-Type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text
    # the server is still serving
    r = requests.post(guarded.url + "/v1/search", headers=ok, files={"image": ("a.png", small_png())}, timeout=30)
    assert r.status_code == 200


def test_an_unexpected_failure_is_a_500_without_traceback(tmp_path, monkeypatch):
    import uvicorn

    from facesearch.gallery import Gallery
    from facesearch.serve import create_app

    db = tmp_path / "fs.db"
    index(make_gallery(tmp_path / "gallery"), db)
    app = create_app(Gallery.open(db), warm=False)

    def boom():
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(app.state.service.reader, "people", boom)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.config.port}"
        r = requests.get(url + "/v1/people", timeout=30)
        assert r.status_code == 500
        body = r.json()
        assert body["error"]["code"] == "internal_error" and body["error"]["request_id"] in body["error"]["message"]
        assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
        assert requests.get(url + "/v1/health", timeout=30).status_code == 500  # health counts people too
    finally:
        server.should_exit = True
        thread.join(10)
