import numpy as np
import pytest

from facesearch.errors import IndexFileError
from facesearch.gallery.index import VectorIndex


def unit(n, d, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_returns_database_ids_ranked():
    v = unit(50, 8)
    ids = np.arange(1000, 1050)
    idx = VectorIndex.build(8, ids, v)
    scores, got = idx.search(v[:3], 4)
    assert got[:, 0].tolist() == [1000, 1001, 1002]
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


def test_remove_and_ids():
    idx = VectorIndex.build(8, np.array([3, 5, 7]), unit(3, 8))
    assert idx.remove([5]) == 1
    assert sorted(idx.ids().tolist()) == [3, 7]
    assert len(idx) == 2


def test_save_load_roundtrip_keeps_generation(tmp_path):
    idx = VectorIndex.build(8, np.array([1, 2]), unit(2, 8), generation=7)
    p = tmp_path / "x.faiss"
    idx.save(p)
    back = VectorIndex.load(p)
    assert back.generation == 7 and back.dim == 8 and sorted(back.ids().tolist()) == [1, 2]
    assert not list(tmp_path.glob(".*tmp"))


def test_load_rejects_foreign_file(tmp_path):
    p = tmp_path / "x.faiss"
    p.write_bytes(b"garbage")
    with pytest.raises(IndexFileError):
        VectorIndex.load(p)


def test_empty_index_search():
    scores, ids = VectorIndex(4).search(unit(2, 4), 5)
    assert scores.shape == (2, 0)


def test_index_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, facesearch.gallery.index; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_find_neighbours_and_persist(kind, tmp_path):
    v = unit(3000, 16, seed=3)
    ids = np.arange(10, 3010)
    idx = VectorIndex.build(16, ids, v, kind=kind, params={"nprobe": 8} if kind == "ivf" else None)
    assert idx.kind == kind and len(idx) == 3000
    _, got = idx.search(v[:50], 1)
    assert (got[:, 0] == ids[:50]).mean() >= 0.95
    idx.save(tmp_path / "i.faiss")
    back = VectorIndex.load(tmp_path / "i.faiss")
    assert back.kind == kind and back.params == idx.params
    assert sorted(back.ids().tolist()) == ids.tolist()
    if kind == "ivf":
        assert back.params["nprobe"] == 8 and back.faiss.nprobe == 8
        assert back.remove([10, 11]) == 2 and len(back) == 2998
    else:
        assert not back.supports_remove


@pytest.mark.parametrize("storage", ["sq8", "flat"])
def test_hnsw_storage_scores_exactly_and_accepts_adds(storage, tmp_path):
    v = unit(2000, 16, seed=4)
    idx = VectorIndex.build(16, np.arange(2000), v, kind="hnsw", params={"storage": storage, "ef_search": 64})
    scores, got = idx.search(v[:20], 5)
    assert (got[:, 0] == np.arange(20)).all()
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", v[:20], v[got]), atol=1e-5)  # exact, not 8-bit
    idx.add([5000], -v[:1])  # outside the trained ranges is fine: the re-rank is exact
    assert idx.search(-v[:1], 1)[1][0, 0] == 5000
    idx.save(tmp_path / "h.faiss")
    back = VectorIndex.load(tmp_path / "h.faiss")
    assert back.params["storage"] == storage and back._graph().hnsw.efSearch == 64


def test_hnsw_file_from_before_storage_option_loads_as_flat(tmp_path):
    import json

    from facesearch.gallery.index import MAGIC

    v = unit(500, 8, seed=5)
    old = VectorIndex.build(8, np.arange(500), v, kind="hnsw", params={"storage": "flat"})
    old.save(tmp_path / "old.faiss")
    raw = (tmp_path / "old.faiss").read_bytes().split(b"\n", 2)
    header = json.loads(raw[1])
    del header["params"]["storage"]
    (tmp_path / "old.faiss").write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + raw[2])
    back = VectorIndex.load(tmp_path / "old.faiss")
    assert back.params["storage"] == "flat"
    back.set_search_params(ef_search=33)
    assert back._graph().hnsw.efSearch == 33 and back.search(v[:1], 1)[1][0, 0] == 0


def test_auto_kind_by_size():
    from facesearch.gallery.index import AUTO_FLAT_MAX, resolve_kind

    assert resolve_kind("auto", 10) == "flat"
    assert resolve_kind("auto", AUTO_FLAT_MAX + 1) == "hnsw"
    with pytest.raises(ValueError):
        resolve_kind("lsh", 10)


def _hand_built(kind, dim, params, train):
    """The index as the previous release assembled it, class by class."""
    import faiss

    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        graph = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, params["m"], faiss.METRIC_INNER_PRODUCT)
        graph.train(train)
        inner = faiss.IndexRefineFlat(graph)
        inner.k_factor = 2
        graph.hnsw.efConstruction = params["ef_construction"]
        return faiss.IndexIDMap2(inner)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, params["nlist"], faiss.METRIC_INNER_PRODUCT)
    index.train(train)
    return index


@pytest.mark.parametrize("kind,factory", [("flat", "IDMap2,Flat"), ("hnsw", "IDMap2,HNSW32_SQ8,RFlat"),
                                          ("ivf", "IVF25,Flat")])
def test_index_factory_gives_the_hand_built_results(kind, factory):
    from facesearch.gallery.index import DEFAULTS, factory_string

    v, ids = unit(1000, 16, seed=4), np.arange(1, 1001)
    idx = VectorIndex.build(16, ids, v, kind=kind)
    assert factory_string(idx.kind, idx.params) == factory
    old = VectorIndex(16, 0, _hand_built(kind, 16, {**DEFAULTS[kind], **idx.params}, v), kind, idx.params)
    old.add(ids, v)
    q = unit(20, 16, seed=5)
    (s1, i1), (s2, i2) = idx.search(q, 10), old.search(q, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)


def swap_two_vectors(path, store, fix_checksum: bool = False) -> None:
    """Rewrite an index file with two photos' vectors swapped, its header as it was."""
    import hashlib

    import faiss

    from facesearch.files import read_framed, write_framed
    from facesearch.gallery.index import MAGIC

    header, _ = read_framed(path, MAGIC)
    idx = VectorIndex.load(path)
    ids, vectors = store.embeddings(idx.dim)
    vectors = vectors.copy()
    vectors[[0, -1]] = vectors[[-1, 0]]
    swapped = VectorIndex.build(idx.dim, ids, vectors, idx.generation, idx.kind, idx.params)
    payload = faiss.serialize_index(swapped.faiss).tobytes()
    if fix_checksum:  # a careful forger: only comparing with the database finds it
        header["sha256"] = hashlib.sha256(payload).hexdigest()
    write_framed(path, MAGIC, header, payload)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_swapped_vectors_are_found_by_check_and_never_searched(tmp_path, kind):
    """Issue 23 row 3: two vectors swapped inside the .faiss file, header intact."""
    from facesearch.gallery import Gallery
    from tests.conftest import person_image

    db = tmp_path / "fs.db"
    g = Gallery.open(db, model="fake", detector="none", create=True)
    g.set_index_type(kind)
    for i, name in enumerate(["ann", "ben", "cat", "dan"]):
        g.enroll_photos(name, [person_image(i)])
    assert g.check() == []
    swap_two_vectors(tmp_path / "fs.faiss", g.store)
    again = Gallery.open(db)
    assert any("do not match its checksum" in p for p in again.check())
    for i, name in enumerate(["ann", "ben", "cat", "dan"]):  # rebuilt from the database, not the file
        m = again.identify([person_image(i)], k=1)[0].matches[0]
        assert (m.identity, round(m.score, 3)) == (name, 1.0)
    assert again.reindex() == 4 and Gallery.open(db).check() == []
    swap_two_vectors(tmp_path / "fs.faiss", g.store, fix_checksum=True)
    assert Gallery.open(db).check() == ["2 vectors in index differ from the embeddings stored for their photos"]


@pytest.mark.parametrize("kind, params, call", [("ivf", {"nlist": 40, "nprobe": 1}, {"nprobe": 40}),
                                                ("hnsw", {"ef_search": 16}, {"ef_search": 400}),
                                                ("hnsw", {"ef_search": 16, "storage": "flat"}, {"ef_search": 400})])
def test_search_parameters_for_one_call_leave_the_index_as_it_is(kind, params, call):
    v = unit(2000, 16, seed=3)
    idx = VectorIndex.build(16, np.arange(2000), v, kind=kind, params=params)
    exact = VectorIndex.build(16, np.arange(2000), v)
    q = unit(50, 16, seed=4)
    _, truth = exact.search(q, 10)
    _, wide = idx.search(q, 10, call)
    assert (wide == truth).mean() >= 0.99  # every list probed / a wide graph walk: exact
    setting = idx.faiss.nprobe if kind == "ivf" else idx._graph().hnsw.efSearch
    assert setting == (params.get("nprobe") or params.get("ef_search")) and idx.params == idx.params | params
    assert (idx.search(q, 10)[1] == idx.search(q, 10, {})[1]).all()
