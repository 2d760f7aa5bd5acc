"""SFace (``--model sface``): the published OpenCV Zoo graph, rewritten once at load, gives the
published graph's outputs; its checksum is the published file's, recorded like any encoder's."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from facesearch.config import SFACE_GRAPH
from facesearch.encoders import create_encoder, sface
from facesearch.files import sha256_file
from tests.conftest import person_image


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("FACESEARCH_ONNX_CACHE", str(tmp_path_factory.mktemp("onnx")))
    yield create_encoder("sface")
    mp.undo()


def test_card_names_the_published_file(encoder):
    assert encoder.card.arch == "sface" and encoder.embedding_dim == 128 and encoder.preprocess.size == 112
    assert encoder.card.checksum == sface.SHA256 == sha256_file(SFACE_GRAPH)


def test_rewritten_graph_equals_the_published_one(encoder):
    """Reference: OpenCV's own runtime on the published file (batch 1), as FaceRecognizerSF runs it."""
    cv2 = pytest.importorskip("cv2")
    import onnx

    net = cv2.dnn.readNetFromONNX(str(SFACE_GRAPH))
    x = np.random.default_rng(0).uniform(0, 255, (3, 3, 112, 112)).astype(np.float32)
    want = []
    for i in range(len(x)):
        net.setInput(x[i:i + 1], "data")
        want.append(net.forward().reshape(-1))
    np.testing.assert_allclose(encoder.forward(x), np.stack(want), atol=1e-5)
    graph = onnx.load_from_string(sface.rewrite(str(SFACE_GRAPH)))
    assert [i.name for i in graph.graph.input] == ["data"]
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert "DequantizeLinear" not in {n.op_type for n in graph.graph.node}


def test_crops_are_fed_as_raw_rgb(encoder):
    crops = np.random.default_rng(1).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    np.testing.assert_allclose(encoder.to_input(crops), crops.transpose(0, 3, 1, 2).astype(np.float32), atol=1e-4)


def test_index_with_sface_records_its_checksum(tmp_path, encoder):
    from facesearch.cli import main
    from facesearch.gallery import Gallery

    for i, name in enumerate(["ann", "ben"]):
        (tmp_path / "g" / name).mkdir(parents=True)
        person_image(i, size=112).save(tmp_path / "g" / name / "1.png")
    db = tmp_path / "s.db"
    r = CliRunner().invoke(main, ["index", str(tmp_path / "g"), "--db", str(db), "--model", "sface",
                                  "--detector", "none"])
    assert r.exit_code == 0, r.output
    assert Gallery(db).meta.card.checksum == sface.SHA256
