"""Browsers' requests: unknown Host headers (DNS rebinding) and cross-origin writes are
refused; the server's own page (same origin) and non-browser clients are not."""
from __future__ import annotations

import io

import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import serve_gallery


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    person_image(seed).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """No token; one extra host name and one extra origin allowed."""
    server = serve_gallery(tmp_path_factory.mktemp("guard"), "--allowed-host", "faces.lan",
                           "--allowed-origin", "https://app.example.org")
    yield server
    server.stop()


def people(server) -> list[str]:
    return [p["identity"] for p in requests.get(server.url + "/v1/people", timeout=30).json()["people"]]


def enrol(server, name: str, seed: int, **headers):
    return requests.post(f"{server.url}/v1/people/{name}/photos", files={"image": ("p.png", png(seed))},
                         headers=headers, timeout=60)


def assert_refused(r, status, code):
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["request_id"] == r.headers["X-Request-ID"]


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},  # a sandboxed frame or a file:// page
    {"Referer": "http://evil.example/page.html"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://127.0.0.1:1"},  # another port of this machine is another origin
])
def test_a_cross_origin_write_is_refused_and_writes_nothing(open_server, headers):
    assert_refused(enrol(open_server, "mallory", 31, **headers), 403, "forbidden")
    url = open_server.url
    assert_refused(requests.delete(url + "/v1/people/alice", headers=headers, timeout=30), 403, "forbidden")
    assert_refused(requests.patch(url + "/v1/people/alice", json={"name": "x"}, headers=headers, timeout=30),
                   403, "forbidden")
    assert "mallory" not in people(open_server) and "alice" in people(open_server)


def test_the_servers_own_page_and_scripts_may_write(open_server):
    own = {"Origin": open_server.url, "Sec-Fetch-Site": "same-origin"}  # what a browser sends from the page
    assert enrol(open_server, "dora", 32, **own).status_code == 201
    assert enrol(open_server, "dora", 33, Referer=open_server.url + "/").status_code == 201
    assert enrol(open_server, "dora", 34).status_code == 201  # curl, scripts: no Origin at all
    allowed = {"Origin": "https://app.example.org", "Sec-Fetch-Site": "cross-site"}  # --allowed-origin
    assert enrol(open_server, "dora", 35, **allowed).status_code == 201
    r = requests.post(open_server.url + "/v1/search", files={"image": ("q.png", png(32))}, headers=own, timeout=60)
    assert r.status_code == 200 and r.json()["faces"][0]["matches"][0]["identity"] == "dora"


@pytest.mark.parametrize("path", ["/", "/v1/people", "/v1/health", "/openapi.json", "/static/app.js"])
def test_an_unknown_host_header_is_refused(open_server, path):
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example"):
        r = requests.get(open_server.url + path, headers={"Host": host}, timeout=30)
        assert_refused(r, 400, "bad_request")
        assert "Host" in r.json()["error"]["message"]
    port = open_server.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]", "faces.lan", f"FACES.LAN:{port}"):
        assert requests.get(open_server.url + path, headers={"Host": host}, timeout=30).status_code == 200, host


def test_the_policy_rules():
    from facesearch.serve.guard import SitePolicy, host_name, origin_of

    policy = SitePolicy("myhost.example", ["extra.lan"], ["https://app.example.org:443/"])
    assert policy.origins == {"https://app.example.org"}
    for host in ("localhost", "LOCALHOST:8000", "app.localhost", "10.1.2.3:80", "[fe80::1]:8000", "myhost.example",
                 "extra.lan."):
        assert policy.host_allowed(host), host
    for host in ("evil.example", "localhost.evil.example", "extra.lan.evil", ""):
        assert not policy.host_allowed(host), host
    assert SitePolicy(allowed_hosts=["*"]).host_allowed("anything.example")
    for bad in ({"allowed_origins": ["app.example.org"]}, {"allowed_origins": ["https://a.example/x"]},
                {"allowed_hosts": ["https://a.example"]}, {"allowed_hosts": [" "]}):
        with pytest.raises(ValueError):
            SitePolicy(**bad)
    assert host_name("[::1]:8000") == "::1" and origin_of("http://h:80/x") == "http://h" and origin_of("null") is None
    h = {"host": "127.0.0.1:8000"}
    assert policy.refusal("GET", {**h, "origin": "http://evil"}) is None  # reads: the browser hides them
    assert policy.refusal("POST", {**h, "origin": "http://127.0.0.1:8000"}) is None
    assert policy.refusal("POST", {**h, "origin": "https://127.0.0.1:8000"}) is None  # a TLS proxy in front
    assert policy.refusal("POST", {"host": "extra.lan", "origin": "https://extra.lan"}) is None
    assert policy.refusal("POST", {"host": "extra.lan", "origin": "http://extra.lan:8443"})[0] == 403
    assert not policy.host_allowed("localhost:80@evil.example") and not policy.host_allowed("localhost:x")
    assert policy.refusal("POST", {**h, "sec-fetch-site": "same-site", "origin": "http://localhost:3000"})[0] \
        == 403
