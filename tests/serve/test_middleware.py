"""The token, the upload limit, and failures that must never show a traceback."""
from __future__ import annotations

import concurrent.futures
import contextlib
import io
import os
import threading
import time

import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import env, free_port, index, make_gallery, serve_gallery

pytestmark = pytest.mark.slow  # real servers

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server with a token (from $FACESEARCH_API_TOKEN) and a 0.5 MB upload limit."""
    server = serve_gallery(tmp_path_factory.mktemp("guarded"), "--max-upload-mb", "0.5",
                           environ=env(FACESEARCH_API_TOKEN=TOKEN))
    yield server
    server.stop()


def small_png(seed: int = 0, rng_seed: int = 3) -> bytes:
    buf = io.BytesIO()
    person_image(seed, noise=5, rng_seed=rng_seed).save(buf, "PNG")
    return buf.getvalue()


def test_token_required_on_every_v1_route(guarded):
    url = guarded.url
    for method, path in [("get", "/v1/health"), ("get", "/v1/people"), ("post", "/v1/search"),
                         ("post", "/v1/compare"), ("post", "/v1/people/x/photos"), ("patch", "/v1/people/x"),
                         ("delete", "/v1/people/x"), ("delete", "/v1/photos/1"), ("get", "/v1/people/x/photos"),
                         ("get", "/v1/photos/1")]:
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


@contextlib.contextmanager
def in_process(app):
    """``app`` served by uvicorn in a thread on a free port; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def local_app(tmp_path, **options):
    from facesearch.gallery import Gallery
    from facesearch.serve import create_app

    db = tmp_path / "fs.db"
    index(make_gallery(tmp_path / "gallery"), db)
    return create_app(Gallery.open(db), warm=False, **options)


def test_an_unexpected_failure_is_a_500_without_traceback(tmp_path, monkeypatch):
    app = local_app(tmp_path)

    def boom():
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(app.state.service.reader, "people", boom)
    with in_process(app) as url:
        r = requests.get(url + "/v1/people", timeout=30)
        assert r.status_code == 500
        body = r.json()
        assert body["error"]["code"] == "internal_error" and body["error"]["request_id"] in body["error"]["message"]
        assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
        assert requests.get(url + "/v1/health", timeout=30).status_code == 500  # health counts people too


def test_a_database_failure_names_no_url_nor_path(tmp_path, monkeypatch):
    from facesearch.errors import IndexFileError, StoreError

    app = local_app(tmp_path)
    failures = iter([StoreError("database error on postgresql://facesearch@db.internal:5432/faces: "
                                "invalid byte sequence for encoding \"UTF8\": 0x00"),
                     IndexFileError(f"{tmp_path}/cache/abc.faiss is damaged: run `facesearch reindex`")])

    def fail():
        raise next(failures)

    monkeypatch.setattr(app.state.service.reader, "people", fail)
    with in_process(app) as url:
        for _ in range(2):
            r = requests.get(url + "/v1/people", timeout=30)
            assert r.status_code == 500 and r.json()["error"]["code"] == "server_error", r.text
            assert r.json()["error"]["request_id"] in r.json()["error"]["message"]
            for secret in ("postgresql", "db.internal", "UTF8", str(tmp_path), "faiss", "reindex"):
                assert secret not in r.text, r.text


def test_a_refusal_does_not_name_the_database(tmp_path, monkeypatch):
    from facesearch.errors import GalleryError

    app = local_app(tmp_path)
    label = app.state.service.reader.store.label

    def refuse():
        raise GalleryError(f"{label} is empty: run `facesearch index <gallery> --db {label}` first")

    monkeypatch.setattr(app.state.service.reader, "people", refuse)
    with in_process(app) as url:
        r = requests.get(url + "/v1/people", timeout=30)
    assert r.status_code == 400 and str(tmp_path) not in r.text, r.text
    assert "the gallery database is empty" in r.json()["error"]["message"]


def test_one_failing_photo_fails_only_its_own_request(tmp_path, monkeypatch):
    """A photo that makes the pipeline raise (a 30 x 30 photo did) gets 422; photos searched
    at the same time, in the same batch, are answered."""
    app = local_app(tmp_path)
    service = app.state.service
    identify = service.reader.identify

    calls = []

    def fragile(photos, **kw):
        calls.append((len(photos), any(p.data == bad for p in photos)))
        time.sleep(0.3)  # slow enough for concurrent requests to be batched together
        if any(p.data == bad for p in photos):
            raise ValueError("need at least one array to concatenate")
        return identify(photos, **kw)

    monkeypatch.setattr(service.reader, "identify", fragile)
    bad = small_png(seed=5)
    with in_process(app) as url:
        def search(data):
            return requests.post(url + "/v1/search", files={"image": ("p.png", data)}, timeout=60)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(search, [small_png(), bad, small_png(seed=1), small_png(seed=2), bad,
                                             small_png(seed=0, rng_seed=9)]))
    assert [r.status_code for r in answers] == [200, 422, 200, 200, 422, 200], [r.text for r in answers]
    assert answers[1].json()["error"]["code"] == "invalid_image" and "concatenate" not in answers[1].text
    assert [r.json()["faces"][0]["matches"][0]["identity"] for r in answers[2:4]] == ["bob", "carol"]
    assert any(n > 1 and has_bad for n, has_bad in calls), calls  # the bad photo was batched with good ones


def test_an_empty_token_is_refused_at_start_up(tmp_path):
    import subprocess

    from facesearch.serve import create_app
    from tests.serve.conftest import CLI

    db = str(tmp_path / "fs.db")
    for args, environ in ((["--token", ""], {}), (["--token", "   "], {}), ([], {"FACESEARCH_API_TOKEN": ""}),
                          ([], {"FACESEARCH_API_TOKEN": " \t"}), (["--token", " padded "], {})):
        r = subprocess.run([*CLI, "serve", "--db", db, "--port", str(free_port()), *args], env=env(**environ),
                           capture_output=True, text=True, timeout=60)  # a server that starts never ends: a failure
        assert r.returncode == 2 and "--token" in r.stderr and "Traceback" not in r.stderr, (args, environ, r.stderr)
    for args in (["--allowed-origin", "app.example.org"], ["--allowed-origin", "https://app.example.org/page"],
                 ["--allowed-host", "http://faces.lan"], ["--allowed-host", ""]):
        r = subprocess.run([*CLI, "serve", "--db", db, "--port", str(free_port()), *args], env=env(),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and args[0] in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "fs.db").exists()  # refused before anything was opened
    with pytest.raises(ValueError, match="empty"):
        create_app(None, token=" ", warm=False)
