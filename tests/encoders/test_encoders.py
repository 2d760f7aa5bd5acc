import numpy as np
import pytest
import torch

from facesearch.encoders import EncoderError, create_encoder, list_encoders, load_net
from facesearch.encoders.checkpoint import save_checkpoint
from facesearch.files import sha256_file
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
    assert enc.card.checksum == sha256_file(p)  # what existing databases store for a weights file


@pytest.mark.parametrize("spec, hint", [
    ("mobilefacenet", "pass --weights FILE"),
    ("facenet", "facenet:vggface2"),
    ("timm:resnet18", "--weights imagenet only gives a pretrained backbone"),
])
def test_encoder_without_trained_weights_is_refused(spec, hint):
    with pytest.raises(EncoderError, match="has no trained weights") as e:
        create_encoder(spec)
    assert hint in str(e.value) and "--model default" in str(e.value)
    assert load_net(spec) is not None  # training still starts from it


def test_compare_with_random_weights_is_an_error_not_a_score(tmp_path):
    from click.testing import CliRunner

    from facesearch.cli import main
    from tests.conftest import person_image

    for i in (0, 1):
        person_image(i, size=112).save(tmp_path / f"{i}.png")
    r = CliRunner().invoke(main, ["compare", str(tmp_path / "0.png"), str(tmp_path / "1.png"),
                                  "--model", "mobilefacenet", "--detector", "none"])
    assert r.exit_code == 1
    assert "error: mobilefacenet has no trained weights" in r.output and "Traceback" not in r.output


def test_imagenet_backbone_trains_but_does_not_encode(monkeypatch):
    import timm

    asked, create_model = [], timm.create_model

    def offline(name, pretrained=False, **kw):  # stands in for the hub download
        asked.append(pretrained)
        return create_model(name, pretrained=False, **kw)

    monkeypatch.setattr(timm, "create_model", offline)
    net = load_net("timm:resnet18", "imagenet")
    assert asked == [True] and net.embedding_dim == 512
    with pytest.raises(EncoderError, match="only gives a pretrained backbone.*facesearch train"):
        create_encoder("timm:resnet18", "imagenet")


@pytest.mark.slow  # builds a real InceptionResnetV1
def test_downloaded_weights_are_checksummed_by_their_tensors(monkeypatch):
    import facenet_pytorch.models.inception_resnet_v1 as irv1

    from facesearch.encoders.torch_net import state_dict_checksum

    def fake_download(net, name):  # deterministic "pretrained" weights, no network
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for t in net.state_dict().values():
                if t.is_floating_point():
                    t.copy_(torch.randn(t.shape, generator=g))

    monkeypatch.setattr(irv1, "load_weights", fake_download)
    enc = create_encoder("facenet:vggface2")
    assert enc.card.checksum == create_encoder("facenet:vggface2").card.checksum
    assert len(enc.card.checksum) == 64 and "None" not in enc.card.checksum
    net = load_net("facenet:vggface2")
    assert state_dict_checksum(net) == enc.card.checksum
    with torch.no_grad():
        net.last_linear.weight[0, 0] += 1
    assert state_dict_checksum(net) != enc.card.checksum


def test_fake_encoder_keeps_the_checksum_of_the_previous_release(tmp_path):
    assert create_encoder("fake").card.checksum == "fake:None"
    torch.save(load_net("fake").state_dict(), tmp_path / "w.pt")
    assert create_encoder("fake", str(tmp_path / "w.pt")).card.checksum == sha256_file(tmp_path / "w.pt")


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
    save_checkpoint(p, load_net("fake"), half=True, metrics={"top1": 0.5})
    enc = create_encoder(str(p))
    crops = np.random.default_rng(1).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(enc.embed(crops), fake_encoder_obj.embed(crops), atol=1e-2)
    torch.save({"some": "dict"}, tmp_path / "other.pt")
    with pytest.raises(EncoderError, match="not a facesearch checkpoint"):
        create_encoder(str(tmp_path / "other.pt"))


@pytest.mark.slow  # builds a real timm network
def test_timm_backbone_builds_offline(tmp_path):
    torch.save(load_net("timm:efficientnet_b0").state_dict(), tmp_path / "enc.pt")
    enc = create_encoder("timm:efficientnet_b0", str(tmp_path / "enc.pt"))
    assert enc.embed(np.zeros((1, 112, 112, 3), np.uint8)).shape == (1, 512)
    with pytest.raises(EncoderError, match="no model"):
        create_encoder("timm:not_a_model")
    state = torch.load(tmp_path / "enc.pt")
    torch.save({k: v for k, v in state.items() if k.startswith("backbone.")}, tmp_path / "backbone.pt")
    with pytest.raises(EncoderError, match="no embedding layer"):
        create_encoder("timm:efficientnet_b0", str(tmp_path / "backbone.pt"))


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
