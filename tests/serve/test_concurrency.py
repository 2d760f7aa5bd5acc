"""The CLI writing while the server answers, and concurrent writes through the server."""
from __future__ import annotations

import io
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import CLI, Server, env, index, make_gallery

pytestmark = pytest.mark.slow  # real servers


def png(seed: int, noise: float = 0, rng_seed: int = 0) -> bytes:
    buf = io.BytesIO()
    person_image(seed, noise=noise, rng_seed=rng_seed).save(buf, "PNG")
    return buf.getvalue()


def hammer(url: str, photo: bytes, stop: threading.Event, seen: list) -> None:
    with requests.Session() as s:
        while not stop.is_set():
            r = s.post(url + "/v1/search", files={"image": ("q.png", photo)}, timeout=60)
            seen.append((r.status_code, r.json()["faces"][0]["matches"][0]["identity"] if r.ok else r.text))


def test_cli_writes_while_the_server_answers(tmp_path):
    db = tmp_path / "fs.db"
    index(make_gallery(tmp_path / "gallery"), db)
    newcomers = tmp_path / "more"
    for i in range(40):
        (newcomers / f"person{i:02d}").mkdir(parents=True)
        for j in range(3):
            person_image(100 + i, size=32, noise=3, rng_seed=j).save(newcomers / f"person{i:02d}" / f"{j}.png")
    server = Server(db)
    try:
        stop, seen = threading.Event(), []
        threads = [threading.Thread(target=hammer, args=(server.url, png(0, 8, 5), stop, seen)) for _ in range(2)]
        for t in threads:
            t.start()
        try:  # 120 photos in batches of 16, each batch slowed down: the write takes seconds
            index(newcomers, db, environ=env(FAKE_ENCODER_DELAY="0.3", FACESEARCH_BATCH="16"))
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert len(seen) >= 4 and all(s == (200, "alice") for s in seen), seen[:10]
        # the server sees the new people at once
        hit = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(117, 3, 9))}, timeout=60).json()
        assert hit["faces"][0]["matches"][0]["identity"] == "person17"
        health = requests.get(server.url + "/v1/health", timeout=30).json()
        assert health["identities"] == 43 and health["photos"] == 126
        # renames and removals by the CLI too
        subprocess.run([*CLI, "people", "rename", "bob", "robert", "--db", str(db)], env=env(), check=True,
                       capture_output=True)
        subprocess.run([*CLI, "people", "remove", "alice", "--db", str(db)], env=env(), check=True,
                       capture_output=True)
        hit = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(1, 8, 5))}, timeout=60).json()
        assert hit["faces"][0]["matches"][0]["identity"] == "robert"
        hit = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(0, 8, 5))}, timeout=60).json()
        assert all(m["identity"] != "alice" for m in hit["faces"][0]["matches"])
        assert "Traceback" not in server.output()
    finally:
        server.stop()
    check = subprocess.run([*CLI, "check", "--db", str(db)], env=env(), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_concurrent_enrolments_and_searches_through_the_server(tmp_path):
    db = tmp_path / "fs.db"
    index(make_gallery(tmp_path / "gallery"), db)
    server = Server(db)
    try:
        def enrol(i):
            files = [("image", (f"{j}.png", png(200 + i, 4, j))) for j in range(2)]
            return requests.post(server.url + f"/v1/people/new{i}/photos", files=files, timeout=60).status_code

        def search(i):
            r = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(i % 3, 8, i))}, timeout=60)
            return r.status_code, r.json()["faces"][0]["matches"][0]["identity"]

        with ThreadPoolExecutor(12) as pool:
            enrolled = pool.map(enrol, range(12))
            searched = pool.map(search, range(48))
            assert list(enrolled) == [201] * 12
            assert list(searched) == [(200, ["alice", "bob", "carol"][i % 3]) for i in range(48)]
        for i in range(12):
            hit = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(200 + i, 8, 50))},
                                timeout=60).json()
            assert hit["faces"][0]["matches"][0]["identity"] == f"new{i}"
        people = requests.get(server.url + "/v1/people", timeout=30).json()["people"]
        assert len(people) == 15 and all(p["photos"] == 2 for p in people)
    finally:
        server.stop()
    # the server wrote through the CLI's protocol: database and index file agree
    check = subprocess.run([*CLI, "check", "--db", str(db)], env=env(), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    listed = subprocess.run([*CLI, "people", "--db", str(db), "--json"], env=env(), capture_output=True, text=True)
    assert len(listed.stdout.splitlines()) == 15
