"""Databases and index files written by the previous release (0.1.0, commit 244dde3) open
unchanged: same check, same answers, still writable. Built by the fake encoder, so the
fixture is small; tests/data/release_0_1/expected.json holds that release's answers."""
import json
import shutil
from pathlib import Path

import pytest

from facesearch.gallery import Gallery
from facesearch.photos.scan import scan_gallery
from tests.conftest import person_image

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "release_0_1"


@pytest.fixture
def release(tmp_path):
    dst = tmp_path / "release"
    shutil.copytree(FIXTURE, dst)
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
        assert Path(r.query).relative_to(release) == Path(want["query"]).relative_to("tests/data/release_0_1")
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
