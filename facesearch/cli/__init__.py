"""The ``facesearch`` command line. Thin: parse options, call the Gallery facade, print.

Exit codes: 0 all good; 1 some files failed (each reported on stderr) or a refusal
(any :class:`~facesearch.errors.FacesearchError`, printed as ``error: <message>``).
"""
from __future__ import annotations

import click

from ..errors import FacesearchError
from .analyze_command import analyze
from .classifier_command import classifier
from .gallery_commands import check, compare, index, people, query, reindex
from .model_commands import calibrate, evaluate
from .plugins import plugin_command, plugin_names
from .serve_command import serve
from .watch_command import watch


class Main(click.Group):
    """Turns facesearch's own errors into one clean line on stderr and exit status 1, and
    adds the commands other packages plug in (``train``, from the training package)."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *plugin_names()})

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or plugin_command(name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FacesearchError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="facesearch")
def main():
    """Face identification: enrol a gallery of person folders, then ask who is in a photo.

    \b
      facesearch index ./gallery            enrol <gallery>/<person>/*.jpg
      facesearch query photo.jpg --k 5      who is this?
      facesearch compare a.jpg b.jpg        same person? (cosine similarity)
      facesearch analyze photo.jpg          gender of every face
      facesearch people                     enrolled identities and photo counts
      facesearch serve                      REST API + web page on http://127.0.0.1:8000
      facesearch watch video.mp4 --every 5  who appears in a video, stream or webcam, and when
    """


for command in (index, query, compare, analyze, people, reindex, check, calibrate, serve, classifier, watch):
    main.add_command(command)
main.add_command(evaluate, name="eval")

__all__ = ["main"]
