"""The search component: per-call FAISS parameters that leave the shared index as it is,
one k per photo (a batch run at its largest k answers each photo as if it ran alone)."""
import pytest

from facesearch.gallery import Gallery
from facesearch.photos.scan import scan_gallery


@pytest.fixture
def gallery(db_path, gallery_dir, fake_encoder_obj):
    g = Gallery(db_path, encoder=fake_encoder_obj, detector="none")
    g.enroll(scan_gallery(gallery_dir))
    return g


def test_search_parameters_go_with_the_call_and_leave_the_shared_index_as_it_is(gallery, gallery_dir):
    gallery.set_index_type("ivf", nprobe=3)
    gallery.reindex()
    index = gallery.index
    assert index.kind == "ivf" and index.faiss.nprobe == 3
    gallery.search_params = {"nprobe": 7}
    [r] = gallery.identify([gallery_dir / "alice" / "alice_0001.jpg"], k=2)
    assert r.matches[0].identity == "alice"
    assert gallery.index is index and index.faiss.nprobe == 3 and index.params["nprobe"] == 3


def test_each_photo_gets_its_own_k_and_the_answer_it_gets_alone(gallery, gallery_dir):
    photos = [gallery_dir / "alice" / "alice_0002.png", gallery_dir / "bob" / "bob_0001.jpg",
              gallery_dir / "carol" / "distortion" / "carol_0001_noisy.jpg"]
    gallery.set_threshold(-1.0, {"objective": "test", "margin": 0.0})
    together = gallery.identify(photos, k=[1, 3, 2])
    assert [len(r.matches) for r in together] == [1, 3, 2]
    alone = [gallery.identify([p], k=k)[0] for p, k in zip(photos, [1, 3, 2])]
    assert [r.as_dict() for r in together] == [r.as_dict() for r in alone]


def test_a_k_per_photo_must_name_every_photo(gallery, gallery_dir):
    with pytest.raises(ValueError, match="2 values for 1 photos"):
        gallery.identify([gallery_dir / "bob" / "bob_0001.jpg"], k=[1, 2])
