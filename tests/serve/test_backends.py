"""`facesearch serve --db postgresql://...`, with FAISS and with Milvus Lite vectors: search,
upload and delete through the REST API, and (FAISS) a CLI write the server sees."""
import io

import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import Server, env, index, make_gallery

pytestmark = pytest.mark.slow  # a real server on each backend


def png(seed: int, noise: float = 0, rng_seed: int = 0) -> bytes:
    buf = io.BytesIO()
    person_image(seed, noise=noise, rng_seed=rng_seed).save(buf, "PNG")
    return buf.getvalue()


def top(server, seed: int) -> str:
    r = requests.post(server.url + "/v1/search", files={"image": ("q.png", png(seed, 9, 4))}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["faces"][0]["matches"][0]["identity"]


@pytest.mark.parametrize("backend", ["postgres-faiss", "postgres-milvus"], indirect=True)
def test_serve_on_a_server_database(backend, tmp_path):
    db, extra = backend
    index(make_gallery(tmp_path / "gallery"), db, *extra)
    server = Server(db, log=tmp_path / "server.log", environ=env(FACESEARCH_INDEX_CACHE=str(tmp_path / "cache")))
    try:
        assert "postgresql://" in server.output() and top(server, 1) == "bob"
        r = requests.post(server.url + "/v1/people/dan/photos", files={"image": ("d.png", png(7))}, timeout=60)
        assert r.status_code in (200, 201), r.text
        assert top(server, 7) == "dan"
        assert requests.delete(server.url + "/v1/people/bob", timeout=60).status_code in (200, 204)
        assert top(server, 1) != "bob"
        if not extra:  # FAISS: a CLI write from another process while the server runs
            more = tmp_path / "more"
            (more / "eve").mkdir(parents=True)
            person_image(8).save(more / "eve" / "e.png")
            index(more, db)
            assert top(server, 8) == "eve"
    finally:
        server.stop()
