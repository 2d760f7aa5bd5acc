"""Photos enrolled and identified from memory (bytes, PIL images), one photo removed,
every face of a photo answered: the facade methods the server uses."""
import io

import numpy as np
import pytest
from PIL import Image

from facesearch.errors import ConflictError, GalleryError, ImageError, NotFoundError
from facesearch.gallery import Gallery, PhotoBytes
from tests.conftest import person_image
from tests.faces.test_detect import StubDetector


def png(seed, noise=0, rng_seed=0) -> bytes:
    buf = io.BytesIO()
    person_image(seed, noise=noise, rng_seed=rng_seed).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def gallery(db_path):
    return Gallery.open(db_path, model="fake", detector="none", create=True)


def test_enrol_from_memory_then_identify_from_memory(gallery):
    rep = gallery.enroll_photos("alice", [PhotoBytes("a1.png", png(0)), person_image(0, noise=5, rng_seed=1)])
    assert len(rep.added) == 2 and rep.existing == [] and rep.identity == "alice"
    gallery.enroll_photos("bob", [png(1)])
    r_bytes, r_pil = gallery.identify([png(0, 8, 4), person_image(0, noise=8, rng_seed=4)], k=2)
    assert r_bytes.matches[0].identity == r_pil.matches[0].identity == "alice"
    assert r_bytes.query == "<bytes>" and r_pil.query == "<image 64x64>"
    paths = [p["path"] for p in gallery.photos("alice")]
    assert paths[0].startswith("upload:") and paths[0].endswith("/a1.png")
    assert gallery.check() == []


def test_enrolment_is_all_or_nothing(gallery):
    gallery.enroll_photos("alice", [png(0)])
    with pytest.raises(ImageError, match="junk.jpg"):
        gallery.enroll_photos("bob", [png(1), PhotoBytes("junk.jpg", b"\xff\xd8nope")])
    with pytest.raises(ConflictError, match="enrolled as alice"):
        gallery.enroll_photos("bob", [png(1), png(0)])
    assert dict(gallery.people()) == {"alice": 1}
    again = gallery.enroll_photos("alice", [png(0), png(0)])
    assert again.added == [] and len(again.existing) == 1
    with pytest.raises(GalleryError, match="empty"):
        gallery.enroll_photos(" ", [png(2)])


def test_remove_one_photo(gallery):
    ids = gallery.enroll_photos("alice", [png(0), png(0, 5, 1)]).added
    assert gallery.remove_photo(ids[0]) == "alice"
    assert dict(gallery.people()) == {"alice": 1} and len(gallery.index) == 1
    with pytest.raises(NotFoundError):
        gallery.remove_photo(ids[0])
    gallery.remove_photo(ids[1])  # the last one: the identity goes too
    assert gallery.people() == [] and gallery.check() == []
    with pytest.raises(NotFoundError):
        gallery.photos("alice")


def test_unknown_and_taken_names_have_their_own_errors(gallery):
    gallery.enroll_photos("alice", [png(0)])
    gallery.enroll_photos("bob", [png(1)])
    with pytest.raises(NotFoundError):
        gallery.remove("carol")
    with pytest.raises(NotFoundError):
        gallery.rename("carol", "x")
    with pytest.raises(ConflictError):
        gallery.rename("alice", "bob")


def test_a_twin_writes_and_the_original_sees_it(gallery):
    gallery.enroll_photos("alice", [png(0)])
    assert gallery.identify([png(1)])[0].matches[0].identity == "alice"
    writer = gallery.twin()
    assert writer.embedder() is gallery.embedder()  # the models are shared
    writer.enroll_photos("bob", [png(1)])
    assert gallery.identify([png(1)])[0].matches[0].identity == "bob"


def test_a_new_database_answers_with_no_matches(db_path):
    g = Gallery.open(db_path, model="fake", detector="none", create=True)
    (r,) = g.identify([png(0)])
    assert r.matches == [] and r.accepted is None


def test_identify_every_face(db_path):
    g = Gallery.open(db_path, model="fake", detector="mtcnn", create=True)
    g.embedder().aligner._mtcnn = StubDetector([[150, 20, 250, 120], [10, 30, 90, 110]], [0.99, 0.98])
    group = Image.fromarray(np.random.default_rng(5).integers(0, 255, (160, 280, 3), dtype=np.uint8))
    # enrol each face's crop region as a person: left and right
    g.enroll_photos("left", [group.crop((0, 0, 140, 160)).resize((32, 32))])
    (r,) = g.identify([group], k=2, all_faces=True, threshold=-1.0)
    assert [f.box[0] for f in r.faces] == [10, 150]
    main = r.faces[1]  # the larger face, on the right
    assert r.face.box == main.face.box and r.matches == main.matches and r.accepted == main.accepted
    d = r.as_dict()
    assert set(d) == {"query", "matches", "accepted", "quality", "margin", "face_found", "faces"}
    assert set(d["faces"][0]) == {"box", "det_score", "quality", "matches", "accepted", "margin"}
    assert d["faces"][0]["box"] == [10.0, 30.0, 90.0, 110.0] and d["faces"][1]["det_score"] == 0.99
    assert all(f["accepted"] is True for f in d["faces"])  # threshold -1: any usable face
    (plain,) = g.identify([group], k=2)
    assert plain.faces is None and "faces" not in plain.as_dict() and plain.face.box == main.face.box
