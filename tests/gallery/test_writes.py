"""Issue 23 row 4: every write takes the database's writer lock, also one that leaves the
vectors as they are (facesearch/gallery/writes.py): a rename while `index` enrols that
person's folder must not split the person in two."""
import threading

import pytest

import facesearch.gallery.enrolment as enrolment
from facesearch.gallery import Gallery
from facesearch.gallery.locks import writer_lock
from facesearch.photos.scan import scan_gallery
from tests.conftest import person_image

WRITES = {"rename": lambda g: g.rename("alice", "alicia"),
          "set_threshold": lambda g: g.set_threshold(0.5, {}),
          "set_verify_threshold": lambda g: g.set_verify_threshold(0.5, {}),
          "set_index_type": lambda g: g.set_index_type("flat")}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_waits_for_the_writer_lock(db_path, gallery_dir, write):
    g = Gallery.open(db_path, model="fake", detector="none", create=True)
    g.enroll(scan_gallery(gallery_dir))
    holder = writer_lock(g.store)  # another writer (`facesearch index`, say) at work
    assert holder.acquire(blocking=False)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (WRITES[write](Gallery.open(db_path)), done.set()))
    worker.start()
    try:
        assert not done.wait(1.0), f"{write} did not wait for the writer lock"
    finally:
        holder.release()
    worker.join(30)
    assert done.is_set()


def test_a_rename_during_index_waits_and_the_person_stays_whole(db_path, tmp_path, monkeypatch):
    root = tmp_path / "g"
    (root / "alice").mkdir(parents=True)
    for j in range(6):
        person_image(0, noise=8, rng_seed=j).save(root / "alice" / f"a{j}.png")
    monkeypatch.setattr(enrolment, "EMBED_BATCH", 2)  # three batches, each saved whole
    g = Gallery.open(db_path, model="fake", detector="none", create=True)
    g.enroll([("alice", root / "alice" / "a0.png")])
    renamer = None

    def progress(_):
        nonlocal renamer
        if renamer is None:  # after the first batch: a client renames alice (HTTP PATCH, `people rename`)
            renamer = threading.Thread(target=lambda: Gallery.open(db_path).rename("alice", "alicia"))
            renamer.start()
            renamer.join(2)  # it finishes at once unless it waits for the lock

    g.enroll(scan_gallery(root), progress=progress)
    renamer.join(30)
    assert g.people() == [("alicia", 6)]
    report = g.enroll(scan_gallery(root))  # the folder keeps its new name: nothing to do
    assert (report.added, report.skipped, report.errors) == (0, 6, []) and g.people() == [("alicia", 6)]
