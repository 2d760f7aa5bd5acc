from pathlib import Path

import pytest
import torch

from facesearch.config import SHIPPED_MODEL
from facesearch.encoders import create_encoder, list_encoders, load_net, registry
from facesearch.encoders.checkpoint import save_checkpoint
from facesearch.encoders.spec import parse_model_spec
from facesearch.errors import EncoderError


def test_specs_parse_to_one_shape(tmp_path):
    assert parse_model_spec(None).checkpoint == SHIPPED_MODEL
    assert parse_model_spec("default").text == "default"
    ckpt = parse_model_spec("runs/x/best.pt")
    assert ckpt.checkpoint == Path("runs/x/best.pt") and ckpt.text == str(Path("runs/x/best.pt").resolve())
    fam = parse_model_spec("facenet:vggface2")
    assert (fam.arch, fam.checkpoint, fam.weights) == ("facenet:vggface2", None, None)
    w = tmp_path / "w.bin"
    w.write_bytes(b"x")
    assert parse_model_spec("mobilefacenet", str(w)).weights == str(w.resolve())
    assert parse_model_spec("timm:resnet18", "imagenet").weights == "imagenet"


def test_checkpoint_given_as_weights_loads_as_that_checkpoint(tmp_path):
    net = load_net("fake")
    torch.nn.init.normal_(net.proj.weight)
    save_checkpoint(tmp_path / "c.pt", net)
    again = load_net("fake", str(tmp_path / "c.pt"))
    assert torch.equal(again.proj.weight, net.proj.weight)
    enc = create_encoder("fake", str(tmp_path / "c.pt"))
    assert enc.card.model == "fake" and enc.card.weights == str((tmp_path / "c.pt").resolve())
    assert enc.card.same_embeddings(create_encoder(str(tmp_path / "c.pt")).card)


def test_entry_point_plugins_are_loaded_once(monkeypatch):
    loaded = []

    class EntryPoint:
        name, value = "demo", "demo_plugin:families"

        def load(self):
            loaded.append(self.value)
            registry.register_encoder("demo")(lambda variant, weights: None)

    monkeypatch.setattr(registry, "entry_points", lambda group: [EntryPoint()] if group == "facesearch.encoders" else [])
    monkeypatch.setattr(registry, "_plugins_loaded", set())
    monkeypatch.setitem(registry._FAMILIES, "demo", None)  # removed again after the test
    assert "demo" in list_encoders() and "demo" in list_encoders()
    assert loaded == ["demo_plugin:families"]


def test_broken_plugin_is_named(monkeypatch):
    monkeypatch.setattr(registry, "_plugins_loaded", set())
    monkeypatch.setenv("FACESEARCH_PLUGINS", "no_such_module_xyz")
    with pytest.raises(EncoderError, match="no_such_module_xyz"):
        list_encoders()
