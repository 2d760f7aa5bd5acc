"""One runtime for every path: the same photo gives the same vector (and so the same scores)
alone or in a batch, in `query`, in `index` and in the server (the shipped model)."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import requests

from tests.conftest import person_image
from tests.serve.conftest import CLI, Server, env, make_gallery

SHIPPED = env(FACESEARCH_RUNTIME="onnx")


def test_a_photo_alone_and_in_a_batch_gives_the_same_vector(tmp_path):
    from facesearch.encoders import create_encoder
    from facesearch.faces.pipeline import Embedder

    photos = []
    for i in range(40):
        photos.append(tmp_path / f"{i}.png")
        person_image(i % 7, size=160, noise=10, rng_seed=i).save(photos[-1])
    encoder = create_encoder("default")
    alone = [next(Embedder(encoder).run([p])).vector for p in (photos[0], photos[-1])]
    batch = [r.vector for r in Embedder(encoder).run(photos, batch_size=40)]
    np.testing.assert_allclose(alone, [batch[0], batch[-1]], rtol=0, atol=1e-7)


@pytest.mark.slow  # a real server
def test_query_index_and_server_agree(tmp_path):
    gallery = make_gallery(tmp_path / "gallery")
    db = tmp_path / "fs.db"
    subprocess.run([*CLI, "index", str(gallery), "--db", str(db)], env=SHIPPED, check=True, capture_output=True)
    photo = gallery / "bob" / "bob_1.png"  # enrolled: it must find itself at score 1
    alone = subprocess.run([*CLI, "query", str(photo), "--db", str(db), "--json", "--k", "3"], env=SHIPPED,
                           check=True, capture_output=True, text=True)
    (mine,) = [json.loads(line) for line in alone.stdout.splitlines()]
    batch = subprocess.run([*CLI, "query", str(gallery), "--db", str(db), "--json", "--k", "3"], env=SHIPPED,
                           check=True, capture_output=True, text=True)
    (in_batch,) = [r for r in map(json.loads, batch.stdout.splitlines()) if r["query"] == mine["query"]]
    assert mine["matches"][0]["identity"] == "bob" and mine["matches"][0]["score"] > 0.99999
    assert in_batch["matches"] == mine["matches"]
    server = Server(db, environ=SHIPPED)
    try:
        with open(photo, "rb") as f:
            r = requests.post(server.url + "/v1/search", files={"image": (photo.name, f, "image/png")},
                              params={"k": 3}, timeout=60)
    finally:
        server.stop()
    assert r.status_code == 200, r.text
    (face,) = r.json()["faces"]
    assert [m["identity"] for m in face["matches"]] == [m["identity"] for m in mine["matches"]]
    np.testing.assert_allclose([m["score"] for m in face["matches"]], [m["score"] for m in mine["matches"]],
                               atol=2e-6)
