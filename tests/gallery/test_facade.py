import pytest

from facesearch.gallery import Gallery, GalleryError
from facesearch.gallery.index import VectorIndex
from facesearch.photos.scan import scan_gallery


def enrol(db_path, root, **kw):
    from facesearch.encoders import create_encoder

    g = Gallery(db_path, encoder=create_encoder("fake"), detector="none")
    return g, g.enroll(scan_gallery(root), **kw)


def test_enrol_and_identify(db_path, gallery_dir):
    g, rep = enrol(db_path, gallery_dir)
    assert rep.added == 6 and not rep.errors
    queries = sorted(gallery_dir.glob("*/distortion/*.jpg"))
    results = g.identify(queries, k=2)
    for q, r in zip(queries, results):
        assert r.matches[0].identity == q.parent.parent.name
        assert len(r.matches) == 2 and r.matches[0].score >= r.matches[1].score
        assert r.accepted is None


def test_reindex_is_incremental(db_path, gallery_dir):
    from tests.conftest import person_image

    enrol(db_path, gallery_dir)
    _, again = enrol(db_path, gallery_dir)
    assert (again.added, again.skipped) == (0, 6)
    person_image(9).save(gallery_dir / "alice" / "alice_0003.jpg")
    g, third = enrol(db_path, gallery_dir)
    assert (third.added, third.skipped) == (1, 6)
    assert dict(g.people())["alice"] == 3
    assert g.check() == []


def test_prune_removes_missing_photos_and_people(db_path, gallery_dir):
    import shutil

    enrol(db_path, gallery_dir)
    shutil.rmtree(gallery_dir / "carol")
    (gallery_dir / "bob" / "bob_0002.png").unlink()
    g, rep = enrol(db_path, gallery_dir, prune_under=gallery_dir)
    assert rep.removed == 3
    assert dict(g.people()) == {"alice": 2, "bob": 1}
    assert len(g.index) == 3 and g.check() == []


def test_one_result_per_identity(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    r = g.identify([gallery_dir / "alice" / "alice_0001.jpg"], k=10)[0]
    names = [m.identity for m in r.matches]
    assert len(names) == len(set(names)) == 3
    assert r.matches[0].photo.endswith("alice_0001.jpg") and r.matches[0].score == pytest.approx(1, abs=1e-5)


def test_stale_or_missing_index_file_is_rebuilt(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    g.sync.path().unlink()
    assert len(Gallery(db_path).index) == 6
    VectorIndex(16, generation=0).save(g.sync.path())  # empty, old generation
    fresh = Gallery(db_path)
    assert fresh.check() and len(fresh.index) == 6
    assert fresh.reindex() == 6 and fresh.check() == []


def test_encoder_mismatch_is_refused(db_path, gallery_dir, tmp_path):
    import torch

    from facesearch.encoders import create_encoder
    from tests.conftest import FakeNet

    enrol(db_path, gallery_dir)
    other = FakeNet()
    torch.nn.init.zeros_(other.proj.weight)
    torch.save(other.state_dict(), tmp_path / "w.pt")
    with pytest.raises(GalleryError, match="was built with encoder"):
        Gallery(db_path, encoder=create_encoder("fake", weights=str(tmp_path / "w.pt")))


def test_remove_and_rename_keep_index_consistent(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    assert g.remove("bob") == 2
    g.rename("alice", "alicia")
    assert dict(g.people()) == {"alicia": 2, "carol": 2}
    assert g.check() == [] and len(Gallery(db_path).index) == 4
    with pytest.raises(GalleryError):
        g.rename("carol", "alicia")
    with pytest.raises(GalleryError):
        g.remove("nobody")


def test_bad_files_are_reported_and_skipped(db_path, gallery_dir):
    (gallery_dir / "alice" / "broken.jpg").write_bytes(b"")
    (gallery_dir / "bob" / "notes.jpg").write_text("hello")
    g, rep = enrol(db_path, gallery_dir)
    assert rep.added == 6 and sorted(e.path.rsplit("/", 1)[1] for e in rep.errors) == ["broken.jpg", "notes.jpg"]
    assert g.check() == []


def test_threshold_sets_accepted(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    q = [gallery_dir / "alice" / "alice_0001.jpg"]
    assert g.identify(q, threshold=0.5)[0].accepted is True
    assert g.identify(q, threshold=1.5)[0].accepted is False
    g.set_threshold(0.5, {"objective": "test"})
    assert Gallery(db_path).identify(q)[0].accepted is True


def test_calibrated_margin_needs_a_runner_up_far_enough_behind(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    q = [gallery_dir / "alice" / "alice_0001.jpg"]
    g.set_threshold(-1.0, {"objective": "test", "margin": 0.0})
    [r] = Gallery(db_path).identify(q, k=1)
    assert r.accepted is True and len(r.matches) == 1  # k=1 shown, the runner-up still searched
    [r2] = Gallery(db_path).identify(q, k=2)
    gap = r2.matches[0].score - r2.matches[1].score
    g.set_threshold(-1.0, {"objective": "test", "margin": gap + 1e-3})
    assert Gallery(db_path).identify(q, k=1)[0].accepted is False
    assert Gallery(db_path).identify(q, k=1, threshold=-1)[0].accepted is True  # by hand: the score alone


def test_compare(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    same = g.compare(gallery_dir / "alice" / "alice_0001.jpg", gallery_dir / "alice" / "alice_0002.png")
    diff = g.compare(gallery_dir / "alice" / "alice_0001.jpg", gallery_dir / "bob" / "bob_0001.jpg")
    assert same > diff


def test_index_type_is_persisted_and_removal_on_hnsw_rebuilds(db_path, gallery_dir):
    g, _ = enrol(db_path, gallery_dir)
    g.set_index_type("hnsw", ef_search=50)
    g.reindex()
    reopened = Gallery(db_path)
    assert reopened.index.kind == "hnsw" and reopened.index.params["ef_search"] == 50
    assert reopened.remove("bob") == 2
    assert reopened.check() == [] and len(Gallery(db_path).index) == 4
    r = Gallery(db_path).identify([gallery_dir / "alice" / "alice_0001.jpg"], k=1)[0]
    assert r.matches[0].identity == "alice"


def test_one_detector_per_database(db_path, gallery_dir):
    enrol(db_path, gallery_dir)
    with pytest.raises(GalleryError, match="--detector none"):
        Gallery(db_path, detector="mtcnn")
    assert Gallery(db_path, detector="none").detector == "none"


def test_writer_waits_for_the_lock_and_says_so(db_path, gallery_dir):
    import threading

    from filelock import FileLock

    enrol(db_path, gallery_dir)
    notes = []
    g = Gallery(db_path, on_wait=notes.append)
    held = FileLock(str(db_path) + ".lock")
    held.acquire()
    t = threading.Thread(target=g.reindex)
    t.start()
    t.join(2)
    assert t.is_alive() and notes and "another facesearch command is writing" in notes[0]
    held.release()
    t.join(10)
    assert not t.is_alive() and g.check() == []
