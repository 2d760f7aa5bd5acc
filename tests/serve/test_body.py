"""Reading request bodies: a slow body is cut off (408), and a refused upload is drained so
that clients which send the whole body before reading (Python's urllib) see the answer."""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.serve.conftest import env, serve_gallery

TOKEN = "body-token"


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A token, a 0.5 MB upload limit and a 2 s body deadline."""
    server = serve_gallery(tmp_path_factory.mktemp("body"), "--max-upload-mb", "0.5", "--body-timeout", "2",
                           environ=env(FACESEARCH_API_TOKEN=TOKEN))
    yield server
    server.stop()


def raw_request(server, head: bytes, body: bytes, wait: float = 15) -> tuple[bytes, float]:
    """Send ``head`` and ``body`` on a raw socket, then read until the server closes (or ``wait``)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as s:
        s.sendall(head + body)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    return got, time.monotonic() - start


def test_a_body_that_does_not_arrive_gets_408_and_the_connection_closes(strict):
    head = (f"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1:{strict.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: 100000\r\n\r\n").encode()
    got, took = raw_request(strict, head, b"--xx\r\n" + b"a" * 94)
    assert got.startswith(b"HTTP/1.1 408"), got[:200]
    assert b'"code":"request_timeout"' in got and b"--body-timeout" in got
    assert 1.5 < took < 10  # closed by the server (the 2 s deadline), not by our 15 s wait


def test_a_slow_trickle_is_cut_off_too(strict):
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict.port), timeout=15) as s:
        s.sendall((f"POST /v1/people/x/photos HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {TOKEN}\r\n"
                   "Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: 1000\r\n\r\n"
                   '--xx\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n').encode())
        got = b""
        try:
            for _ in range(40):  # a byte every 0.25 s: never idle, never done
                s.sendall(b"a")
                time.sleep(0.25)
                s.setblocking(False)
                try:
                    got += s.recv(65536)
                except BlockingIOError:
                    pass
                s.setblocking(True)
                if got:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert got.startswith(b"HTTP/1.1 408"), got[:200]
    assert time.monotonic() - start < 8


def urllib_post(url: str, body, headers: dict):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("token", [TOKEN, None])
def test_urllib_reads_the_refusal_of_an_oversized_upload(strict, token):
    """urllib sends the whole body (no Expect: 100-continue) before it reads a byte."""
    part = b"--xx\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
    body = part + os.urandom(24 << 20)
    headers = {"Content-Type": "multipart/form-data; boundary=xx", **({"X-API-Key": token} if token else {})}
    status, answer = urllib_post(strict.url + "/v1/search", body, headers)
    assert (status, answer["error"]["code"]) == ((413, "payload_too_large") if token else (401, "unauthorized"))

    def chunks():  # no Content-Length (chunked): found too large while it is read
        yield part
        for _ in range(12):
            yield os.urandom(1 << 20)

    status, answer = urllib_post(strict.url + "/v1/search", chunks(), headers)
    assert (status, answer["error"]["code"]) == ((413, "payload_too_large") if token else (401, "unauthorized"))


def test_headers_that_do_not_finish_are_cut_off(strict):
    first = b"GET /v1/people HTTP/1.1\r\nHost: localhost\r\nX-API-Key: " + TOKEN.encode() + b"\r\n\r\n"
    for before in (b"", first):  # on a new connection, and after a first request on a kept-alive one
        got, took = raw_request(strict, before, b"POST /v1/search HTTP/1.1\r\nHost: loc")  # then nothing
        assert got.count(b"HTTP/1.1 200") == (1 if before else 0) and b"HTTP/1.1 4" not in got, got[:300]
        assert 1.5 < took < 10, took  # closed by the server (2 s), not by our 15 s wait


def test_keep_alive_connections_still_serve_several_requests(strict):
    import requests

    with requests.Session() as session:
        for pause in (0, 0.5, 1.0):
            time.sleep(pause)
            r = session.get(strict.url + "/v1/people", headers={"X-API-Key": TOKEN}, timeout=30)
            assert r.status_code == 200
