"""Databases and index files written by earlier code open unchanged: same check, same
answers, still writable. Two fixtures, each built by the fake encoder (small) with its
release's answers in expected.json: the 0.1.0 release (commit 244dde3, schema 0003) and the
main before the library and search changes (commit e32b949, schema 0006, with thresholds set;
made by that checkout's `Gallery` on the same photos: enrol, `set_index_type("hnsw")`,
`set_threshold(0.5)`, `set_verify_threshold(0.6)`)."""
import json
import shutil
from pathlib import Path

import pytest

from facesearch.gallery import Gallery
from facesearch.photos.scan import scan_gallery
from tests.conftest import person_image

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(params=["release_0_1", "release_e32b949"])
def release(request, tmp_path):
    dst = tmp_path / "release"
    shutil.copytree(DATA / request.param, dst)
    return dst


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_old_database_answers_as_before(release, kind):
    g = Gallery(release / f"{kind}.db")
    assert g.check() == []
    assert g.index.kind == kind and len(g.index) == 8
    expected = json.loads((release / "expected.json").read_text())[kind]
    queries = sorted((release / "photos").glob("*/*.png"))
    got = g.identify(queries, k=3)
    assert len(got) == len(expected)
    for r, want in zip(got, expected):
        # (written as tests/data/<fixture>/photos/...)
        assert Path(r.query).relative_to(release) == Path(*Path(want["query"]).parts[3:])
        assert [m.identity for m in r.matches] == [m["identity"] for m in want["matches"]]
        assert [m.score for m in r.matches] == pytest.approx([m["score"] for m in want["matches"]], abs=1e-5)
        assert [Path(m.photo).parts[-2:] for m in r.matches] == [Path(m["photo"]).parts[-2:] for m in want["matches"]]
        assert r.accepted == want["accepted"]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_old_database_stays_writable(release, kind):
    g = Gallery(release / f"{kind}.db")
    assert g.meta.card.arch == "fake" and g.meta.detector == "none" and g.meta.threshold == 0.5
    person_image(42, size=32).save(release / "photos" / "alice" / "2.png")
    rep = g.enroll(scan_gallery(release / "photos"))
    assert (rep.added, rep.skipped) == (1, 8)
    again = Gallery(release / f"{kind}.db")
    assert again.check() == [] and len(again.index) == 9
    assert again.reindex() == 9 and again.check() == []
