import numpy as np
import pytest
import torch

from facesearch.encoders import EncoderError, create_encoder, list_encoders
from facesearch.encoders.checkpoint import save_checkpoint
from facesearch.encoders.mobilefacenet import MobileFaceNet


def test_registry_lists_builtin_families():
    assert {"mobilefacenet", "facenet", "timm", "fake"} <= set(list_encoders())


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(EncoderError, match="unknown encoder"):
        create_encoder("nonsense")


def test_embeddings_are_unit_norm_and_flip_averaged(fake_encoder_obj):
    crops = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    e = fake_encoder_obj.embed(crops)
    assert e.shape == (3, 16) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    mirrored = fake_encoder_obj.embed(crops[:, :, ::-1].copy())
    np.testing.assert_allclose(e, mirrored, atol=1e-5)  # flip-averaging is mirror invariant


def test_embed_rejects_wrong_crop_size(fake_encoder_obj):
    with pytest.raises(ValueError):
        fake_encoder_obj.embed(np.zeros((1, 64, 64, 3), np.uint8))


def test_mobilefacenet_shape_and_state_dict_roundtrip(tmp_path):
    net = MobileFaceNet().eval()
    assert net(torch.zeros(2, 3, 112, 112)).shape == (2, 128)
    p = tmp_path / "mfn.pt"
    torch.save(net.state_dict(), p)
    enc = create_encoder("mobilefacenet", weights=str(p))
    assert enc.embedding_dim == 128 and enc.preprocess.size == 112
    assert enc.card.weights == str(p.resolve())


def test_weights_that_do_not_fit(tmp_path):
    p = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(1)}, p)
    with pytest.raises(EncoderError, match="does not fit"):
        create_encoder("mobilefacenet", weights=str(p))
    q = tmp_path / "text.pt"
    q.write_text("not torch")
    with pytest.raises(EncoderError, match="not a PyTorch"):
        create_encoder("mobilefacenet", weights=str(q))


def test_checkpoint_roundtrip_and_foreign_checkpoint(tmp_path, fake_encoder_obj):
    p = tmp_path / "ck.pt"
    save_checkpoint(p, fake_encoder_obj.net, half=True, metrics={"top1": 0.5})
    enc = create_encoder(str(p))
    crops = np.random.default_rng(1).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(enc.embed(crops), fake_encoder_obj.embed(crops), atol=1e-2)
    torch.save({"some": "dict"}, tmp_path / "other.pt")
    with pytest.raises(EncoderError, match="not a facesearch checkpoint"):
        create_encoder(str(tmp_path / "other.pt"))


def test_timm_backbone_builds_offline():
    enc = create_encoder("timm:efficientnet_b0")
    assert enc.embed(np.zeros((1, 112, 112, 3), np.uint8)).shape == (1, 512)
    with pytest.raises(EncoderError, match="no model"):
        create_encoder("timm:not_a_model")


def test_facenet_download_fails_clearly_offline(monkeypatch, tmp_path):
    import facenet_pytorch.models.inception_resnet_v1 as irv1

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(irv1, "download_url_to_file", offline)
    with pytest.raises(EncoderError, match="could not download facenet"):
        create_encoder("facenet:vggface2")


def test_shipped_default_model_loads_with_its_card():
    from facesearch.config import SHIPPED_MODEL
    from facesearch.encoders.checkpoint import read_checkpoint

    enc = create_encoder("default")
    assert enc.card.arch == "mobilefacenet" and enc.embedding_dim == 128 and enc.preprocess.size == 112
    assert (enc.card.model, enc.card.weights) == ("default", None)
    ckpt = read_checkpoint(SHIPPED_MODEL)
    assert ckpt["metrics"]["A"]["top1"] > 0.8 and "train_args" in ckpt
    assert SHIPPED_MODEL.stat().st_size < 5_000_000
    e = enc.embed(np.zeros((2, 112, 112, 3), np.uint8))
    assert np.isfinite(e).all()
