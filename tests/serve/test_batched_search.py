"""A batch of searches runs at its largest k; each request still gets its own k, decided
as it would be alone (the gallery cuts the answers; the routes cut nothing)."""
from facesearch.gallery import Gallery
from facesearch.photos.scan import scan_gallery
from facesearch.serve.service import Service


def test_a_batch_answers_each_request_with_its_own_k(db_path, gallery_dir, fake_encoder_obj):
    g = Gallery(db_path, encoder=fake_encoder_obj, detector="none")
    g.enroll(scan_gallery(gallery_dir))
    g.set_threshold(-1.0, {"objective": "test", "margin": 0.0})
    a, b = gallery_dir / "alice" / "alice_0002.png", gallery_dir / "bob" / "bob_0001.jpg"
    service = Service(g)
    key = (False, None, False)  # all_faces, threshold, attributes
    first, second = service._identify(key, [a, b], [1, 3])  # what the batcher runs: each photo's own k
    assert (len(first.matches), len(second.matches)) == (1, 3)
    assert first.as_dict() == g.identify([a], k=1)[0].as_dict()
    assert second.as_dict() == g.identify([b], k=3)[0].as_dict()
