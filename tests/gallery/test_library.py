"""The photo library through the Python API (fake encoder, photos that are face crops)."""
from pathlib import Path

import pytest

from facesearch.errors import GalleryError, NotFoundError
from facesearch.gallery import Gallery
from facesearch.gallery.library import Library
from tests.conftest import person_image

PEOPLE = ["alice", "bob", "carol"]  # persons 0, 1, 2; persons 3 and 4 are strangers
THRESHOLD = 0.8  # the fake encoder: one person's noisy copies > 0.99, persons 3 and 2: 0.6


def make_photos(folder: Path, persons, copies=(0, 1, 2)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in persons:
        for j in copies:
            path = folder / f"p{i}_{j}.png"
            person_image(i, noise=10, rng_seed=10 + j).save(path)
            out.append(path)
    return out


@pytest.fixture
def lib(tmp_path) -> Library:
    """alice, bob and carol enrolled (two photos each), calibrated at 0.5 (score only)."""
    gallery = Gallery.open(tmp_path / "fs.db", model="fake", detector="none", create=True)
    items = []
    for i, name in enumerate(PEOPLE):
        (tmp_path / "g" / name).mkdir(parents=True)
        for j in range(2):
            person_image(i, noise=4 * j, rng_seed=j).save(tmp_path / "g" / name / f"{j}.png")
            items.append((name, tmp_path / "g" / name / f"{j}.png"))
    gallery.enroll(items)
    gallery.set_threshold(0.5, {})
    return Library(gallery)


def by_photo(report) -> dict[str, tuple]:
    return {Path(f.photo).stem: (f.cluster, f.identity) for f in report.faces}


def test_cluster_groups_people_and_names_the_enrolled(lib, tmp_path):
    report = lib.cluster(make_photos(tmp_path / "lib", range(5)), THRESHOLD)
    got = by_photo(report)
    assert report.summary()["clusters"] == 5 and report.summary()["unclustered"] == 0
    for i in range(5):
        assert len({got[f"p{i}_{j}"][0] for j in range(3)}) == 1  # one cluster per person
    assert len({got[f"p{i}_0"][0] for i in range(5)}) == 5  # five different people
    assert [got[f"p{i}_0"][1] for i in range(5)] == ["alice", "bob", "carol", "carol", None]  # 3 looks like carol
    assert report.embedded == 15 and report.faces[0].as_dict().keys() == {"photo", "face", "box", "cluster", "identity"}


def test_second_run_embeds_only_new_photos_and_keeps_cluster_ids(lib, tmp_path):
    first = by_photo(lib.cluster(make_photos(tmp_path / "lib", range(5)), THRESHOLD))
    again = lib.cluster(make_photos(tmp_path / "lib", range(5)) + make_photos(tmp_path / "lib", [0], [3]), THRESHOLD)
    assert again.embedded == 1  # the 15 stored photos (same path, same bytes) are not embedded again
    got = by_photo(again)
    assert {k: v[0] for k, v in first.items()} == {k: v[0] for k, v in got.items() if k in first}
    assert got["p0_3"][0] == got["p0_0"][0]  # the new photo joined alice's existing cluster


def test_a_changed_file_is_embedded_again(lib, tmp_path):
    photos = make_photos(tmp_path / "lib", [4])
    lib.cluster(photos, THRESHOLD)
    person_image(0, noise=10, rng_seed=99).save(photos[0])  # now a photo of alice
    report = lib.cluster(photos, THRESHOLD)
    assert report.embedded == 1 and by_photo(report)["p4_0"][1] == "alice"


def test_unreadable_photo_is_reported_and_the_rest_clustered(lib, tmp_path):
    photos = make_photos(tmp_path / "lib", [4])
    (tmp_path / "lib" / "broken.png").write_bytes(b"not an image")
    report = lib.cluster(photos + [tmp_path / "lib" / "broken.png", tmp_path / "lib" / "gone.png"], THRESHOLD)
    assert sorted(Path(e.path).name for e in report.errors) == ["broken.png", "gone.png"]
    assert report.summary()["faces"] == 3 and report.summary()["failed"] == 2 and report.photos == 5


def test_naming_a_cluster_enrols_its_faces(lib, tmp_path):
    got = by_photo(lib.cluster(make_photos(tmp_path / "lib", range(5)), THRESHOLD))
    assert lib.name_cluster(got["p4_0"][0], "dave") == 3
    assert dict(lib.gallery.people())["dave"] == 3
    r = lib.gallery.identify([person_image(4, noise=10, rng_seed=50)])[0]
    assert r.accepted and r.matches[0].identity == "dave"
    assert lib.name_cluster(got["p0_0"][0], "alice") == 3  # merged into the enrolled alice
    assert dict(lib.gallery.people())["alice"] == 5
    assert {c["name"] for c in lib.clusters()} >= {"dave", "alice"}
    with pytest.raises(NotFoundError):
        lib.name_cluster(999, "eve")
    with pytest.raises(GalleryError):
        lib.name_cluster(got["p1_0"][0], "  ")  # not a valid name


def test_correction_stops_a_stranger_being_accepted_and_can_be_undone(lib, tmp_path):
    photos = make_photos(tmp_path / "lib", [2, 3])
    stranger, carol = person_image(3, noise=10, rng_seed=77), person_image(2, noise=10, rng_seed=77)
    assert lib.gallery.identify([stranger])[0].matches[0].identity == "carol"
    assert lib.gallery.identify([stranger])[0].accepted  # the stranger keeps being named carol
    done = lib.correct(photos[3], "carol")  # p3_0: "this is not carol"
    assert lib.feedback()[0]["not"] == "carol" and done["id"] == lib.feedback()[0]["id"]
    answers = lib.gallery.identify([stranger, carol])
    assert not answers[0].accepted  # another photo of the stranger: no longer carol
    assert answers[1].accepted and answers[1].matches[0].identity == "carol"  # carol still is
    assert by_photo(lib.cluster(photos, THRESHOLD))["p3_1"][1] is None
    assert lib.undo(done["id"]) == "carol" and lib.feedback() == []
    assert lib.gallery.identify([stranger])[0].accepted
    with pytest.raises(NotFoundError):
        lib.undo(done["id"])
    with pytest.raises(NotFoundError):
        lib.correct(photos[3], "nobody")


def test_rename_carries_corrections_and_cluster_names(lib, tmp_path):
    got = by_photo(lib.cluster(make_photos(tmp_path / "lib", [3]), THRESHOLD))
    lib.correct(tmp_path / "lib" / "p3_0.png", "carol")
    lib.gallery.rename("carol", "caroline")
    assert lib.feedback()[0]["not"] == "caroline"
    r = lib.gallery.identify([person_image(3, noise=10, rng_seed=5)])[0]
    assert r.matches[0].identity == "caroline" and not r.accepted
    lib.name_cluster(got["p3_0"][0], "dave")
    lib.gallery.rename("dave", "david")
    assert [c["name"] for c in lib.clusters()] == ["david"]


def file_bytes(db: Path) -> bytes:
    """Every byte facesearch keeps beside the database: the file, its WAL and the FAISS index."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file()) + \
        b"".join(p.read_bytes() for p in db.parent.glob("*.faiss"))


def test_erase_leaves_no_copy_of_the_vectors_in_any_file(lib, tmp_path):
    gallery, db = lib.gallery, tmp_path / "fs.db"
    ids, vectors = gallery.store.embeddings(16)
    alice = {pid for pid, (name, _) in gallery.store.photo_info(ids.tolist()).items() if name == "alice"}
    blobs = [vectors[i].tobytes() for i, pid in enumerate(ids) if pid in alice]
    gallery.embed_labelled([tmp_path / "g" / "alice" / "0.png"])  # a cached embedding too
    photos = make_photos(tmp_path / "lib", [0, 3])
    got = by_photo(lib.cluster(photos, THRESHOLD))
    lib.name_cluster(got["p0_0"][0], "alice")  # library faces of alice
    lib.correct(photos[3], "alice")
    gallery.check()
    everything = file_bytes(db)
    assert all(b in everything for b in blobs)  # the test can see them before
    report = lib.erase("alice")
    assert report.photos == 5 and report.removed["cached_embeddings"] == 1 and report.removed["corrections"] == 1
    assert report.removed["library_faces"] == 3 and "VACUUM" in report.compacted
    everything = file_bytes(db)
    assert not any(b in everything for b in blobs)
    assert "alice" not in dict(gallery.people()) and gallery.check() == []
    assert gallery.identify([person_image(1)])[0].matches[0].identity == "bob"
    with pytest.raises(NotFoundError):
        lib.erase("alice")


def test_every_write_is_in_the_audit_log_without_biometric_data(lib, tmp_path):
    photos = make_photos(tmp_path / "lib", [3])
    got = by_photo(lib.cluster(photos, THRESHOLD))
    fid = lib.correct(photos[0], "carol")["id"]
    lib.undo(fid)
    lib.name_cluster(got["p3_0"][0], "dave")
    lib.gallery.rename("dave", "david")
    lib.gallery.remove("bob")
    lib.erase("david")
    lib.gallery.set_index_type("hnsw", ef_search=50)
    log = lib.audit()
    actions = [a["action"] for a in log]
    for action in ("enrol", "calibrate", "cluster", "feedback", "feedback_undo", "rename", "remove", "erase",
                   "index_type"):
        assert action in actions
    assert log[-1]["target"] == "hnsw" and log[-1]["details"]["ef_search"] == 50
    assert {a["actor"] for a in log} == {"python"}
    assert next(a for a in log if a["action"] == "rename")["details"] == {"to": "david"}
    for a in log:  # names, counts and settings: never a vector
        assert all(isinstance(v, (str, int, float, bool, type(None))) for v in a["details"].values())
    assert [a["id"] for a in lib.audit(limit=2)] == [a["id"] for a in log[-2:]]
    lib.gallery.set_vectors("faiss")
    (last,) = lib.audit(limit=1)
    assert (last["action"], last["target"]) == ("vectors", "faiss")


def test_correcting_a_photo_that_cannot_be_used_is_an_image_error(lib, tmp_path):
    from facesearch.errors import ImageError

    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    with pytest.raises(ImageError, match="bad.jpg"):
        lib.correct(tmp_path / "bad.jpg", "carol")
    with pytest.raises(GalleryError, match="has 1 face"):
        lib.correct(make_photos(tmp_path / "lib", [2])[0], "carol", face=3)
