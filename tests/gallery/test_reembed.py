"""`reembed`: a shadow embedding per stored photo, resumable, a before/after report, and an
atomic switch to the new encoder (fake encoder: flip-averaged -> not, two different cards)."""
import pytest

from facesearch.encoders import create_encoder
from facesearch.errors import GalleryError
from facesearch.gallery.reembed import reembed, switch
from tests.gallery.test_library import lib  # noqa: F401  (the fixture)
from tests.conftest import person_image


def test_reembed_reports_resumes_and_switches(lib, tmp_path):  # noqa: F811
    gallery = lib.gallery
    new = create_encoder("fake", flip=False)
    carol = tmp_path / "g" / "carol" / "1.png"
    kept = carol.read_bytes()
    carol.unlink()  # a missing file: reported, not dropped
    report = reembed(gallery, new)
    assert report.photos == 6 and report.embedded_now == 5 and [e.path for e in report.missing] == [str(carol)]
    assert report.before["loo_top1"] == 1.0 and report.after["loo_top1"] == 1.0 and report.changed == 0
    assert report.after["genuine"]["mean"] > report.after["impostor"]["mean"]
    assert gallery.meta.card.flip and gallery.identify([person_image(1)])[0].matches[0].identity == "bob"  # old answers
    with pytest.raises(GalleryError, match="1 stored photos have no new embedding"):
        switch(gallery, new)
    carol.write_bytes(kept)
    again = reembed(gallery, new)  # resumes: only the photo that was missing
    assert again.resumed == 5 and again.embedded_now == 1 and not again.missing
    done = switch(gallery, new)
    assert done.switched and "calibrate" in done.calibration
    gallery.refresh()
    assert not gallery.meta.card.flip and gallery.meta.threshold is None
    assert gallery.check() == [] and dict(gallery.people()) == {"alice": 2, "bob": 2, "carol": 2}
    assert gallery.identify([person_image(2, noise=5)])[0].matches[0].identity == "carol"
    assert any(a["action"] == "reembed_switch" for a in lib.audit())
    with pytest.raises(GalleryError, match="already uses"):
        reembed(gallery, new)


def test_switch_can_drop_photos_without_a_file(lib, tmp_path):  # noqa: F811
    lib.gallery.enroll_photos("dave", [_png(4)])  # an upload: no file
    new = create_encoder("fake", flip=False)
    report = reembed(lib.gallery, new)
    assert [e.path.startswith("upload:") for e in report.missing] == [True]
    switch(lib.gallery, new, drop_missing=True)
    assert "dave" not in dict(lib.gallery.people()) and lib.gallery.check() == []


def _png(seed: int) -> bytes:
    import io

    buf = io.BytesIO()
    person_image(seed).save(buf, "PNG")
    return buf.getvalue()


def test_library_reembed_on_every_backend_and_a_long_lived_gallery_follows(backend, tmp_path):
    """Library.reembed (the CLI's and the server's path) on SQLite / PostgreSQL with FAISS /
    Milvus Lite; a second Gallery open all along (a server) follows the switch."""
    from facesearch.gallery import Gallery
    from facesearch.gallery.library import Library
    from facesearch.gallery.reembed import follow_switch

    db, extra = backend
    gallery = Gallery.open(db, model="fake", detector="none", create=True, vectors=extra[1] if extra else None)
    for i, name in enumerate(["alice", "bob"]):
        (tmp_path / name).mkdir()
        for j in range(2):
            person_image(i, noise=4 * j, rng_seed=j).save(tmp_path / name / f"{j}.png")
    gallery.enroll([(n, tmp_path / n / f"{j}.png") for n in ("alice", "bob") for j in range(2)])
    server, writer = Gallery.open(db), Gallery.open(db)  # a server's reader and writer, models loaded
    assert server.identify([person_image(1)])[0].matches[0].identity == "bob" and writer.encoder.card.flip
    report = Library(gallery).reembed("fake", flip=False, switch=True)
    assert report.switched and report.photos == 4 and report.after["loo_top1"] == 1.0 and gallery.check() == []
    assert server.encoder.card.flip and follow_switch(server) and not server.encoder.card.flip
    assert not follow_switch(server)  # once
    assert follow_switch(writer) and writer.encoder is server.encoder  # one model in memory
    assert server.identify([person_image(1, noise=5)])[0].matches[0].identity == "bob"


def test_switch_says_when_the_new_model_ships_a_calibration(tmp_path, shipped_calibration_file):
    from facesearch.gallery import Gallery
    from facesearch.gallery.library import Library

    gallery = Gallery.open(tmp_path / "fs.db", model="fake", detector="none", create=True, flip=False)
    (tmp_path / "a").mkdir()
    for j in range(2):
        person_image(0, noise=4 * j, rng_seed=j).save(tmp_path / "a" / f"{j}.png")
    gallery.enroll([("alice", tmp_path / "a" / f"{j}.png") for j in range(2)])
    report = Library(gallery).reembed(create_encoder("fake"), switch=True)  # to the card the calibration is for
    assert "the new model's shipped calibration is used" in report.calibration


def test_switch_carries_corrections_and_the_library_follows(lib, tmp_path):  # noqa: F811
    """Corrections are embedded again by the new model (an upload's cannot be: reported);
    library faces of the old model stay out of clustering until their photos are clustered
    again, which embeds them with the new model and keeps their clusters."""
    from tests.gallery.test_library import THRESHOLD, by_photo, make_photos

    photos = make_photos(tmp_path / "lib", [0, 3])
    before = by_photo(lib.cluster(photos, THRESHOLD))
    lib.correct(photos[3], "carol")  # p3_0: not carol
    lib.correct(_png(3), "carol")  # bytes: no file to embed again
    stranger = person_image(3, noise=10, rng_seed=77)
    report = lib.reembed("fake", flip=False, switch=True)
    assert report.corrections_carried == 1 and [e.path for e in report.corrections_left] == ["<bytes>"]
    assert report.as_dict()["corrections_left"][0]["photo"] == "<bytes>"
    lib.gallery.set_threshold(0.5, {})  # (cleared by the switch)
    r = lib.gallery.identify([stranger])[0]
    assert r.matches[0].identity == "carol" and not r.accepted  # the correction still applies
    with pytest.raises(GalleryError, match="reembed --switch"):
        lib.name_cluster(before["p0_0"][0], "alice")  # its faces are the old model's
    again = lib.cluster(photos, THRESHOLD)
    clusters = {k: c for k, (c, _) in by_photo(again).items()}
    assert again.embedded == 6 and clusters == {k: c for k, (c, _) in before.items()}
    assert by_photo(again)["p0_1"][1] == "alice" and by_photo(again)["p3_1"][1] is None  # (corrected)
    assert lib.name_cluster(before["p0_0"][0], "alice") == 3


def test_a_photo_removed_while_reembed_runs_gets_no_shadow_row(lib, tmp_path, monkeypatch):  # noqa: F811
    """A server takes writes while its reembed job runs: an erasure between a batch's
    embedding and its saving leaves no row behind (and no foreign-key failure)."""
    from facesearch.gallery import reembed as R

    real = R.Embedder.run

    def run_then_erase(self, sources, **kw):
        out = list(real(self, sources, **kw))
        if "alice" in dict(lib.gallery.people()):
            lib.erase("alice")
        return iter(out)

    monkeypatch.setattr(R.Embedder, "run", run_then_erase)
    report = reembed(lib.gallery, create_encoder("fake", flip=False))
    assert report.embedded_now == 4 and report.after["loo_top1"] == 1.0
