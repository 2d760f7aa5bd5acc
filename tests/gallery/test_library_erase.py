"""`erase` on the other backends: the erased vectors are in no file of a Milvus Lite store
or of the PostgreSQL database (its table files, after VACUUM FULL and a checkpoint)."""
import os
from pathlib import Path

import pytest

from facesearch.gallery import Gallery
from facesearch.gallery.library import Library
from tests.conftest import person_image


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
