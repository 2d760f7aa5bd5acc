"""Export a training checkpoint as a small float16 model for shipping.

    python -m training.export runs/facecom/best.pt facesearch/weights/mobilefacenet_facecom.pt
"""
from __future__ import annotations

import logging
import sys

from facesearch.encoders.checkpoint import net_from_checkpoint, read_checkpoint, save_checkpoint

from . import log_to_stderr

log = logging.getLogger(__name__)

KEEP = ("train_args", "metrics", "selected_on", "val_metrics", "epoch", "git_commit", "wccn")


def export_fp16(src: str, dst: str) -> None:
    ckpt = read_checkpoint(src)
    net = net_from_checkpoint(ckpt)
    extra = {k: ckpt[k] for k in KEEP if k in ckpt}
    extra["exported_from"] = {"git_commit": extra.pop("git_commit", None), "epoch": extra.pop("epoch", None)}
    save_checkpoint(dst, net, half=True, **extra)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    log_to_stderr()
    export_fp16(sys.argv[1], sys.argv[2])
    log.info("wrote %s", sys.argv[2])
