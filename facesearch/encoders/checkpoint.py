"""facesearch checkpoints: a state dict plus everything needed to use it (arch,
preprocessing, embedding size, training arguments, metrics, git commit)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import torch

from ..errors import EncoderError
from ..files import atomic_write
from .registry import build_family

FORMAT = "facesearch-checkpoint"


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def save_checkpoint(path: str | Path, net: torch.nn.Module, *, half: bool = False, **extra) -> None:
    """Atomically write ``net`` with its arch, preprocessing and any ``extra`` fields."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in net.state_dict().items()}
    ckpt = {"format": FORMAT, "version": 1, "arch": net.arch, "embedding_dim": int(net.embedding_dim),
            "preprocess": net.preprocess.as_dict(), "model": state, "git_commit": git_commit(), **extra}
    with atomic_write(path) as f:
        torch.save(ckpt, f)


def read_checkpoint(path: str | Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise EncoderError(f"checkpoint not found: {path}") from None
    except Exception as e:
        raise EncoderError(f"{path} is not a PyTorch file ({e.__class__.__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise EncoderError(f"{path} is not a facesearch checkpoint; for a bare state dict use "
                           "--model <encoder name> --weights <file>")
    return ckpt


def net_from_checkpoint(ckpt: dict) -> torch.nn.Module:
    """The network a checkpoint describes, with its (possibly float16) weights as float32."""
    net = build_family(ckpt["arch"])
    net.load_state_dict(ckpt["model"])  # copy_ casts float16 tensors to the module's float32
    net.trained = True
    return net
