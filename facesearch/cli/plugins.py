"""Commands other packages add to ``facesearch`` through the ``facesearch.commands`` entry
point group: ``train`` comes from the training package (``training.cli:train``), so
facesearch never imports training. A command named here whose package is absent answers
with one line saying what to install."""
from __future__ import annotations

from importlib.metadata import entry_points
from importlib.util import find_spec

import click

from ..config import COMMAND_GROUP, TRAIN_EXTRA
from ..errors import ExtraMissingError

EXPECTED = {"train": f"Fine-tune an encoder, or fit the gender head (needs the train extra: {TRAIN_EXTRA})."}


def plugin_names() -> set[str]:
    return {ep.name for ep in entry_points(group=COMMAND_GROUP)} | set(EXPECTED)


def plugin_command(name: str) -> click.Command | None:
    """The command ``name`` from its entry point; a stand-in that says what to install when
    it is expected but missing or cannot be imported."""
    for ep in entry_points(group=COMMAND_GROUP):
        if ep.name == name:
            try:
                return ep.load()
            except ImportError as e:
                return _missing(name, f"`facesearch {name}` cannot load ({e}): {TRAIN_EXTRA}")
    if name in EXPECTED and find_spec("training") is not None:  # a checkout whose install predates the entry point
        return _missing(name, f"`facesearch {name}` is not registered with this installation of facesearch: "
                              "install it again (pip install -e . in a checkout)")
    if name in EXPECTED:
        return _missing(name, f"`facesearch {name}` comes with the training package: {TRAIN_EXTRA}")
    return None


def _missing(name: str, message: str) -> click.Command:
    def refuse(args):
        raise ExtraMissingError(message)

    return click.Command(name, callback=refuse, help=EXPECTED.get(name, message), add_help_option=False,
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
