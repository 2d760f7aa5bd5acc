"""``python -m facesearch.training``: the ``facesearch train`` command as a module, the form
``torchrun`` starts (``torchrun --nproc-per-node N -m facesearch.training TRAIN_DIR ...``).

The trainer itself is the top-level ``training`` package; this entry point sits above the
CLI, so nothing in facesearch imports it.
"""
from __future__ import annotations

import sys


def run(argv: list[str] | None = None) -> None:
    """``facesearch train`` with ``argv`` (default: this process's arguments)."""
    from facesearch.cli import main

    main(["train", *(sys.argv[1:] if argv is None else argv)], prog_name="facesearch")
