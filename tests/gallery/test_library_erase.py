"""`erase` on the other backends: the erased vectors are in no file of a Milvus Lite store
or of the PostgreSQL database (its table files, after VACUUM FULL and a checkpoint); and
what only looks like the person (faces the gallery takes for them) is erased too."""
import os
from pathlib import Path

from facesearch.gallery import Gallery
from facesearch.gallery.library import Library
from tests.conftest import person_image
from tests.gallery.test_library import THRESHOLD, by_photo, file_bytes, lib, make_photos  # noqa: F401 (lib: fixture)


def enrol_two(db, tmp_path, **kw) -> tuple[Gallery, list[bytes]]:
    gallery = Gallery.open(db, model="fake", detector="none", create=True, **kw)
    items = []
    for i, name in enumerate(["alice", "bob"]):
        (tmp_path / name).mkdir()
        for j in range(3):
            person_image(i, noise=4 * j, rng_seed=j).save(tmp_path / name / f"{j}.png")
            items.append((name, tmp_path / name / f"{j}.png"))
    gallery.enroll(items)
    ids, vectors = gallery.store.embeddings(16)
    info = gallery.store.photo_info(ids.tolist())
    return gallery, [vectors[k].tobytes() for k, pid in enumerate(ids) if info[int(pid)][0] == "alice"]


def bytes_under(folder: Path, skip=lambda p: False) -> bytes:
    return b"".join(Path(root, f).read_bytes() for root, _, files in os.walk(folder) for f in files
                    if not skip(Path(root, f)))


def test_milvus_lite_file_keeps_no_erased_vector(tmp_path, milvus_spec):
    gallery, blobs = enrol_two(tmp_path / "fs.db", tmp_path, vectors=milvus_spec)
    milvus_file = Path(milvus_spec.split(":", 1)[1])
    assert all(b in bytes_under(milvus_file.parent, lambda p: p.name.startswith("fs.db")) for b in blobs)
    Library(gallery).erase("alice")
    left = bytes_under(milvus_file.parent)
    assert not any(b in left for b in blobs)
    assert gallery.identify([person_image(1)])[0].matches[0].identity == "bob" and gallery.check() == []


def test_postgres_table_files_keep_no_erased_vector(tmp_path, pg_url, postgres_server):
    import psycopg

    gallery, blobs = enrol_two(pg_url, tmp_path)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
        conn.execute("CHECKPOINT")
        files = postgres_server.folder / "data" / "base" / str(oid)
        assert all(b in bytes_under(files) for b in blobs)
        report = Library(gallery).erase("alice")
        conn.execute("CHECKPOINT")
    assert report.compacted == "VACUUM FULL"
    left = bytes_under(files)
    assert not any(b in left for b in blobs)
    assert gallery.identify([person_image(1)])[0].matches[0].identity == "bob" and gallery.check() == []


def test_erase_also_removes_what_only_looks_like_the_person(lib, tmp_path):  # noqa: F811
    """Faces of an unnamed cluster, a correction of another name and a cached labelled photo
    that the gallery takes for alice, and the shadow embeddings of an unfinished `reembed`:
    erased with her, their bytes in no file; other people's library faces stay."""
    from sqlalchemy import select

    from facesearch.encoders import create_encoder
    from facesearch.gallery.library_schema import LibraryFace, ShadowEmbedding
    from facesearch.gallery.reembed import reembed
    gallery = lib.gallery
    got = by_photo(lib.cluster(make_photos(tmp_path / "lib", [0, 1, 4]), THRESHOLD))
    assert got["p0_0"][1] == "alice" and got["p4_0"][1] is None  # alice's faces: an unnamed cluster
    person_image(0, noise=7, rng_seed=70).save(tmp_path / "alice_labelled.png")
    gallery.embed_labelled([tmp_path / "alice_labelled.png"])  # a cached embedding of other bytes
    lib.correct(tmp_path / "lib" / "p0_1.png", "bob")  # her face, in a correction of another name
    reembed(gallery, create_encoder("fake", flip=False))  # shadow embeddings, not switched
    with gallery.store.session() as s:
        shadows = {pid: b for pid, b in s.execute(select(ShadowEmbedding.photo_id, ShadowEmbedding.embedding))}
        faces = dict(s.execute(select(LibraryFace.id, LibraryFace.embedding)).all())
    alice = {p["id"] for p in gallery.photos("alice")}
    clusters = {c["cluster"]: [f["id"] for f in c["faces"]] for c in lib.clusters()}
    hers = clusters[got["p0_0"][0]]
    blobs = [shadows[pid] for pid in alice] + [faces[i] for i in hers]
    assert all(b in file_bytes(tmp_path / "fs.db") for b in blobs)

    report = lib.erase("alice").as_dict()
    assert report["library_faces"] == 3 and report["clusters"] == 1 and report["corrections"] == 1
    assert report["cached_embeddings"] == 1 and report["shadow_embeddings"] == 2
    assert report["recognised_by"] == "user rule's score floor"
    left = file_bytes(tmp_path / "fs.db")
    assert not any(b in left for b in blobs)
    assert gallery.store.cached_embeddings(gallery.meta.card.checksum, 16) == {} and lib.feedback() == []
    remaining = {c["cluster"]: len(c["faces"]) for c in lib.clusters()}
    assert remaining == {got["p1_0"][0]: 3, got["p4_0"][0]: 3}  # bob's and the stranger's stay
    assert lib.cluster(make_photos(tmp_path / "lib", [0, 1, 4]), THRESHOLD).embedded == 0  # she does not come back


def test_erase_without_calibration_uses_the_clustering_threshold(tmp_path):
    gallery, _ = enrol_two(tmp_path / "fs.db", tmp_path)
    report = Library(gallery).erase("alice")
    assert report.recognised_by.startswith("clustering threshold") and report.as_dict()["library_faces"] == 0


def test_a_face_corrected_as_not_the_person_is_not_erased_as_them(lib, tmp_path):  # noqa: F811
    """The stranger the gallery takes for carol, corrected as not carol: erasing carol keeps
    the stranger's cluster (without the correction, it goes with her)."""
    got = by_photo(lib.cluster(make_photos(tmp_path / "lib", [3]), THRESHOLD))
    assert got["p3_0"][1] == "carol"
    lib.correct(tmp_path / "lib" / "p3_0.png", "carol")
    report = lib.erase("carol").as_dict()
    assert report["library_faces"] == 0 and report["corrections"] == 1
    assert {c["cluster"]: len(c["faces"]) for c in lib.clusters()} == {got["p3_0"][0]: 3}
