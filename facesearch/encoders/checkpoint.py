"""facesearch checkpoints: a state dict plus everything needed to use it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import torch

from ..config import SHIPPED_WEIGHTS_DIR
from . import build_net
from .base import Encoder, EncoderError, file_checksum

FORMAT = "facesearch-checkpoint"
SHIPPED = "mobilefacenet_facecom.pt"


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(ckpt, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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


def load_encoder(path: str | Path, flip: bool = True, device: str | None = None) -> Encoder:
    ckpt = read_checkpoint(path)
    net = build_net(ckpt["arch"])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()})
    return Encoder(net, ckpt["arch"], checksum=file_checksum(path), flip=flip, device=device)


def shipped_checkpoint() -> Path:
    path = SHIPPED_WEIGHTS_DIR / SHIPPED
    if not path.is_file():
        raise EncoderError(f"no default model shipped at {path}; pass --model (see README)")
    return path
