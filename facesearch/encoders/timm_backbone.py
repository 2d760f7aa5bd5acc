"""Any timm backbone + a linear embedding layer: ``timm:<model_name>``.

``--weights imagenet`` asks timm for its pretrained backbone (a hub download) with a random
embedding layer: a start for ``facesearch train``, refused by ``create_encoder``; a file
path loads a state dict of the whole encoder; nothing gives random init.
"""
from __future__ import annotations

from torch import nn

from ..errors import EncoderError
from ..types import Preprocess
from .torch_net import load_state_dict
from .registry import register_encoder

EMBEDDING_DIM = 512
INPUT_SIZE = 112


class TimmEncoder(nn.Module):
    def __init__(self, model_name: str, pretrained: bool = False, embedding_dim: int = EMBEDDING_DIM):
        super().__init__()
        import timm

        self.backbone = timm.create_model(model_name, pretrained=pretrained, num_classes=0)
        cfg = self.backbone.pretrained_cfg
        self.preprocess = Preprocess(INPUT_SIZE, tuple(cfg.get("mean", (0.5,) * 3)),
                                     tuple(cfg.get("std", (0.5,) * 3)))
        self.embedding_dim = embedding_dim
        self.embed = nn.Sequential(nn.Linear(self.backbone.num_features, embedding_dim, bias=False),
                                   nn.BatchNorm1d(embedding_dim))
        self.arch = f"timm:{model_name}"

    def forward(self, x):
        return self.embed(self.backbone(x))


@register_encoder("timm")
def timm_encoder(variant: str | None, weights: str | None) -> TimmEncoder:
    import timm

    if not variant:
        raise EncoderError("say which timm model, e.g. timm:efficientnet_b0")
    if variant not in timm.list_models():
        raise EncoderError(f"timm has no model {variant!r} (see timm.list_models())")
    try:
        net = TimmEncoder(variant, pretrained=(weights == "imagenet"))
    except Exception as e:  # hub errors come in many classes
        raise EncoderError(f"could not download timm weights for {variant} ({e.__class__.__name__}). "
                           "Offline? Pass a local state dict with --weights.") from None
    # an ImageNet backbone is a starting point for `facesearch train`, not a face encoder
    net.trained = False
    net.weights_hint = ("pass a facesearch checkpoint (--model runs/train/best.pt); --weights imagenet only "
                        "gives a pretrained backbone, its embedding layer is random: train one with "
                        f"`facesearch train --encoder timm:{variant} --weights imagenet`. Or use --model "
                        "default (the shipped model)")
    if weights and weights != "imagenet":
        missing, _ = net.load_state_dict(load_state_dict(weights), strict=False)
        if len(missing) == len(net.state_dict()):
            raise EncoderError(f"{weights} has no tensors for timm:{variant}")
        net.trained = not any(k.startswith("embed.") and not k.endswith("num_batches_tracked") for k in missing)
        if not net.trained:
            net.weights_hint = f"{weights} has no embedding layer (embed.*); " + net.weights_hint
    return net
