"""The Embedder: photos as files, bytes or PIL images; every face of a photo."""
import io

import numpy as np
import pytest
from PIL import Image

from facesearch.faces.pipeline import Embedded, Embedder, PhotoBytes, as_source, label
from facesearch.types import FileError
from tests.conftest import person_image
from tests.faces.test_detect import StubDetector


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_a_file_its_bytes_and_its_image_embed_alike(tmp_path, fake_encoder_obj):
    im = person_image(3, noise=5)
    im.save(tmp_path / "p.png")
    emb = Embedder(fake_encoder_obj, "none")
    from_file, from_bytes, from_pil = emb.run([tmp_path / "p.png", PhotoBytes("up.png", png_bytes(im)), im])
    np.testing.assert_allclose(from_bytes.vector, from_file.vector, atol=1e-6)
    np.testing.assert_allclose(from_pil.vector, from_file.vector, atol=1e-6)
    assert from_bytes.sha256 == from_file.sha256 and from_pil.sha256
    assert label(from_bytes.path) == "up.png" and label(from_pil.path) == "<image 64x64>"
    assert isinstance(as_source(b"x"), PhotoBytes) and as_source(str(tmp_path)) == tmp_path


def test_bad_bytes_are_a_per_photo_error(fake_encoder_obj):
    results = list(Embedder(fake_encoder_obj, "none").run([PhotoBytes("a.txt", b"hello"), PhotoBytes("e", b""),
                                                           person_image(1)]))
    assert [type(r) for r in results] == [FileError, FileError, Embedded]
    assert results[0].path == "a.txt" and "not an image" in results[0].reason
    assert "empty" in results[1].reason


def test_every_face_is_embedded_on_its_own(fake_encoder_obj):
    emb = Embedder(fake_encoder_obj, "mtcnn")
    emb.aligner._mtcnn = StubDetector([[150, 20, 250, 120], [10, 30, 90, 110]], [0.99, 0.98])
    im = Image.fromarray(np.random.default_rng(5).integers(0, 255, (160, 280, 3), dtype=np.uint8))
    (r,) = emb.run([im], all_faces=True)
    assert [f.box[0] for f, _ in r.faces] == [10, 150] and r.main == 1
    np.testing.assert_allclose(r.faces[r.main][1], r.vector)
    assert r.faces[0][1] @ r.faces[1][1] < 0.999  # two different crops, two vectors
    assert all(f.quality is not None for f, _ in r.faces)
    (one,) = emb.run([im])
    assert one.faces is None and one.face.box == r.face.box
    np.testing.assert_allclose(one.vector, r.vector, atol=1e-6)


def test_warm_up_runs_without_a_photo(fake_encoder_obj):
    Embedder(fake_encoder_obj, "none").warm_up()


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_pil_images_of_any_mode(fake_encoder_obj, mode):
    (r,) = Embedder(fake_encoder_obj, "none").run([person_image(2).convert(mode)])
    assert isinstance(r, Embedded)


def test_units_are_embedded_at_once_sharing_the_cpus_and_results_keep_the_input_order(fake_encoder_obj,
                                                                                     monkeypatch):
    """A run longer than a unit is split into units that two workers decode, detect and embed
    at once, each network call on its share of the CPUs; results still come in input order,
    grouped in batches of ``batch_size``, errors in place."""
    import threading

    from facesearch import runtime
    from facesearch.encoders.base import Encoder
    from facesearch.faces import pipeline

    monkeypatch.setattr(pipeline, "WORK_UNIT", 2)
    both = threading.Barrier(2, timeout=10)  # broken (an error) unless two units embed at once
    seen, threads = [], []

    def forward(x):
        seen.append(len(x))
        threads.append(runtime._call_threads.get())
        if len(seen) <= 2:
            both.wait()
        return fake_encoder_obj.forward(x)

    encoder = Encoder(forward, fake_encoder_obj.card)
    photos = [person_image(i % 3) for i in range(7)]
    photos[3] = PhotoBytes("bad.txt", b"not an image")
    batches = list(Embedder(encoder, "none").batches(photos, batch_size=4))
    assert [len(b) for b in batches] == [4, 3]
    assert set(threads) == {runtime.share_cpus(pipeline.WORKERS)}
    results = [r for b in batches for r in b]
    assert [type(r) for r in results] == [Embedded, Embedded, Embedded, FileError, Embedded, Embedded, Embedded]
    assert results[3].path == "bad.txt"
    want = [Embedder(fake_encoder_obj, "none").run([p]) for p in photos]
    for got, (one,) in zip(results, want):
        if isinstance(got, Embedded):
            np.testing.assert_allclose(got.vector, one.vector, atol=1e-6)
