"""The one parser of model specs (``--model`` / ``--weights``, a checkpoint's ``arch``).

- ``default``                   the model shipped in the package (its ONNX graph; training
                                starts from its checkpoint)
- ``model.onnx``                an encoder graph exported by ``python -m training.export_onnx``
- ``runs/x/best.pt``            a facesearch checkpoint (any ``.pt``/``.pth`` or existing file)
- ``sface``                     a built-in ONNX family (no weights)
- ``mobilefacenet``             a registered family; ``weights`` is its state dict
- ``facenet:vggface2``          family with a variant
- ``timm:efficientnet_b0``      any timm backbone + linear embedding
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import SHIPPED_GRAPH, SHIPPED_MODEL


@dataclass(frozen=True)
class ModelSpec:
    """What to build. ``graph`` is set for ONNX graphs, ``checkpoint`` for checkpoints (both
    for ``default``: the graph runs, training starts from the checkpoint); else ``arch``
    names a family."""

    text: str                  # as recorded to rebuild it: "default", a resolved path, or the family spec
    arch: str | None = None
    checkpoint: Path | None = None
    weights: str | None = None  # a family's state dict (a resolved path when it is a file)
    graph: Path | None = None


def parse_model_spec(spec: str | None, weights: str | None = None) -> ModelSpec:
    spec = spec or "default"
    if spec == "default":
        return ModelSpec("default", checkpoint=SHIPPED_MODEL, graph=SHIPPED_GRAPH)
    path = Path(spec)
    if path.suffix == ".onnx":
        return ModelSpec(str(path.resolve()), graph=path)
    if path.suffix in (".pt", ".pth") or path.is_file():
        return ModelSpec(str(path.resolve()), checkpoint=path)
    if weights and Path(weights).is_file():
        weights = str(Path(weights).resolve())
    return ModelSpec(spec, arch=spec, weights=weights)
