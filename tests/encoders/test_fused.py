"""The fused encoder (``--model fused``): what benchmarks/fusion_members.py chose, computed
from the two shipped members' own embeddings."""
import numpy as np
import pytest

from facesearch.config import FUSION_WEIGHTS
from facesearch.encoders import create_encoder
from facesearch.encoders.base import l2_normalise

pytestmark = pytest.mark.slow  # two real networks


def test_fused_is_the_weighted_join_of_its_whitened_members():
    crops = np.random.default_rng(0).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    z = np.load(FUSION_WEIGHTS)
    members = [create_encoder("default").embed(crops), create_encoder("sface").embed(crops)]
    want = np.concatenate([np.sqrt(w) * l2_normalise(e @ z[k]) for e, w, k in
                           zip(members, z["weights"], ("proj_mobilefacenet", "proj_sface"))], axis=1)
    enc = create_encoder("fused")
    got = enc.embed(crops)
    assert enc.card.embedding_dim == 256 and enc.card.arch == "fused:mobilefacenet+sface"
    assert not enc.card.flip  # the members flip inside: not a second time
    assert np.allclose(got, want, atol=1e-5)
    assert np.allclose(got @ got.T, sum(w * (m @ m.T) for w, m in zip(
        z["weights"], [l2_normalise(e @ z[k]) for e, k in zip(members, ("proj_mobilefacenet", "proj_sface"))])),
        atol=1e-5)


def test_fused_takes_no_weights():
    from facesearch.errors import EncoderError

    with pytest.raises(EncoderError, match="no variants"):
        create_encoder("fused", weights="x.pt")
