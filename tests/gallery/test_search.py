"""The search component: per-call FAISS parameters that leave the shared index as it is,
one k per photo (a batch run at its largest k answers each photo as if it ran alone)."""
import pytest



def test_search_parameters_go_with_the_call_and_leave_the_shared_index_as_it_is(enrolled, gallery_dir):
    enrolled.set_index_type("ivf", nprobe=3)
    enrolled.reindex()
    index = enrolled.index
    assert index.kind == "ivf" and index.faiss.nprobe == 3
    enrolled.search_params = {"nprobe": 7}
    [r] = enrolled.identify([gallery_dir / "alice" / "alice_0001.jpg"], k=2)
    assert r.matches[0].identity == "alice"
    assert enrolled.index is index and index.faiss.nprobe == 3 and index.params["nprobe"] == 3


def test_each_photo_gets_its_own_k_and_the_answer_it_gets_alone(enrolled, gallery_dir):
    photos = [gallery_dir / "alice" / "alice_0002.png", gallery_dir / "bob" / "bob_0001.jpg",
              gallery_dir / "carol" / "distortion" / "carol_0001_noisy.jpg"]
    enrolled.set_threshold(-1.0, {"objective": "test", "margin": 0.0})
    together = enrolled.identify(photos, k=[1, 3, 2])
    assert [len(r.matches) for r in together] == [1, 3, 2]
    alone = [enrolled.identify([p], k=k)[0] for p, k in zip(photos, [1, 3, 2])]
    assert [r.as_dict() for r in together] == [r.as_dict() for r in alone]


def test_a_k_per_photo_must_name_every_photo(enrolled, gallery_dir):
    with pytest.raises(ValueError, match="2 values for 1 photos"):
        enrolled.identify([gallery_dir / "bob" / "bob_0001.jpg"], k=[1, 2])
