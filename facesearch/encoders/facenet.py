"""facenet-pytorch's InceptionResnetV1 (160 px, 512-d).

``facenet:vggface2`` / ``facenet:casia-webface`` use facenet-pytorch's own download path;
offline, that fails with a message saying where to put the file instead.
"""
from __future__ import annotations

from ..errors import EncoderError
from ..types import Preprocess
from .torch_net import load_state_dict
from .registry import register_encoder

# facenet-pytorch's fixed_image_standardization: (x * 255 - 127.5) / 128
FACENET = Preprocess(160, (0.5, 0.5, 0.5), (128 / 255, 128 / 255, 128 / 255))
PRETRAINED = ("vggface2", "casia-webface")


@register_encoder("facenet")
def facenet(variant: str | None, weights: str | None):
    from facenet_pytorch import InceptionResnetV1

    if variant and variant not in PRETRAINED:
        raise EncoderError(f"facenet variants are {', '.join(PRETRAINED)}; got {variant!r}")
    try:
        net = InceptionResnetV1(pretrained=variant)
    except OSError as e:  # URLError is an OSError
        raise EncoderError(
            f"could not download facenet '{variant}' weights ({e}). Offline? Put the file from "
            "https://github.com/timesler/facenet-pytorch/releases/tag/v2.2.9 in "
            "$TORCH_HOME/checkpoints/, or pass it with --weights and model 'facenet'.") from None
    net.trained = variant is not None  # the download is trained
    net.weights_hint = ("use --model facenet:vggface2 (downloads facenet-pytorch's trained weights), pass "
                        "--weights FILE (a state dict or a facesearch checkpoint), or use --model default "
                        "(the shipped model)")
    if weights:
        try:  # not strict: the release files also hold a classifier ("logits") we do not use
            missing, _ = net.load_state_dict(load_state_dict(weights), strict=False)
        except RuntimeError as e:
            raise EncoderError(f"{weights} does not fit InceptionResnetV1: {str(e).splitlines()[0]}") from None
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # BatchNorm fills these
        if missing:
            net.weights_hint = f"{weights} lacks {len(missing)} of its tensors (e.g. {missing[0]}); " + net.weights_hint
        net.trained = net.trained or not missing
    net.preprocess = FACENET
    net.embedding_dim = 512
    net.arch = "facenet"
    return net
