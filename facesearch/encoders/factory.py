"""Model spec -> network -> :class:`Encoder`: the one way every command builds a model."""
from __future__ import annotations

from pathlib import Path

from ..errors import EncoderError
from ..types import EncoderCard
from .base import Encoder, file_checksum
from .graphs import GraphNet, graph_net
from .registry import build_family
from .spec import ModelSpec, parse_model_spec

GET_WEIGHTS = ("pass --weights FILE (a state dict or a facesearch checkpoint), "
               "or use --model default (the shipped model)")


def load_net(spec: str | ModelSpec | None, weights: str | None = None):
    """The bare PyTorch network for a model spec (see :mod:`.spec`), trained or not
    (training starts from it). A facesearch checkpoint given as ``weights`` of a family is
    loaded as the checkpoint it is. Needs the ``train`` extra (PyTorch)."""
    from ..runtime import require_torch

    ms = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec, weights)
    if ms.checkpoint is not None:
        require_torch(f"--model {ms.text} (a PyTorch checkpoint)")
        from .checkpoint import net_from_checkpoint, read_checkpoint

        if not ms.checkpoint.is_file():
            raise EncoderError(f"checkpoint not found: {ms.checkpoint}"
                               + (" (the package ships no default model; pass --model)" if ms.text == "default" else ""))
        return net_from_checkpoint(read_checkpoint(ms.checkpoint))
    if ms.graph is not None:
        raise EncoderError(f"{ms.text} is an ONNX graph: it embeds, but cannot be trained (pass its checkpoint)")
    if ms.weights and Path(ms.weights).is_file():
        require_torch(f"--weights {ms.weights}")
        from .checkpoint import net_from_checkpoint, read_checkpoint

        try:
            return net_from_checkpoint(read_checkpoint(ms.weights))
        except EncoderError:
            pass  # a plain state dict: the family loads it
    return build_family(ms.arch, ms.weights)


def create_encoder(spec: str | None = None, weights: str | None = None, flip: bool = True,
                   device: str | None = None) -> Encoder:
    """A ready-to-use :class:`Encoder` whose card records how to rebuild it. Refused unless
    the family marked the network ``trained``: random weights match everyone to everyone.
    Every network runs in ONNX Runtime (``device`` is accepted for compatibility; CPU)."""
    ms = parse_model_spec(spec, weights)
    net = graph_net(ms.graph) if ms.graph is not None else load_net(ms)
    if not getattr(net, "trained", False):
        raise EncoderError(f"{ms.text} has no trained weights: {getattr(net, 'weights_hint', None) or GET_WEIGHTS}")
    if isinstance(net, GraphNet):
        flip = flip and not net.flips_inside
        card = EncoderCard(arch=net.arch, model=ms.text, weights=ms.weights, checksum=net.weights_checksum,
                           preprocess=net.preprocess, embedding_dim=int(net.embedding_dim), flip=flip)
        return Encoder(net.run, card)
    from .torch_net import state_dict_checksum, torch_encoder

    if ms.checkpoint is not None:
        checksum = file_checksum(ms.checkpoint)
    elif ms.weights and Path(ms.weights).is_file():
        checksum = file_checksum(ms.weights)  # what existing databases store: keep it so
    else:  # built-in or downloaded weights
        checksum = getattr(net, "weights_checksum", None) or state_dict_checksum(net)
    return torch_encoder(net, checksum, flip=flip, model=ms.text, weights=ms.weights)
