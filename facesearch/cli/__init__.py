"""The ``facesearch`` command line. Thin: parse options, call the Gallery facade, print.

Exit codes: 0 all good; 1 some files failed (each reported on stderr) or a refusal
(any :class:`~facesearch.errors.FacesearchError`, printed as ``error: <message>``).
"""
from __future__ import annotations

import errno
import io
import os
import sys

import click

from ..config import AUDIT_ACTOR
from ..errors import FacesearchError
from .analyze_command import analyze
from .classifier_command import classifier
from .gallery_commands import check, compare, index, people, query, reindex
from .library_commands import audit, cluster, correct, reembed
from .model_commands import calibrate, evaluate
from .plugins import plugin_command, plugin_names
from .serve_command import serve
from .watch_command import watch


def _command_path() -> str:
    ctx = click.get_current_context(silent=True)
    return "cli:" + (ctx.command_path if ctx is not None else "facesearch")


class Main(click.Group):
    """Turns facesearch's own errors, and outputs that cannot be written (a full disk, a
    closed pipe), into one clean line on stderr and exit status 1, and adds the commands
    other packages plug in (``train``, from the training package)."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *plugin_names()})

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or plugin_command(name)

    def invoke(self, ctx):
        actor = AUDIT_ACTOR.set(_command_path)  # who wrote, in the audit log: the command, not its arguments
        try:
            return super().invoke(ctx)
        except FacesearchError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except OSError as e:
            if e.errno not in OUTPUT_ERRNOS:
                raise
            _quiet_stdout()
            if not isinstance(e, BrokenPipeError):  # `| head` has read enough: nothing to say
                click.echo(f"error: cannot write {e.filename or 'the output'}: {e.strerror or e}", err=True)
            ctx.exit(1)
        finally:
            AUDIT_ACTOR.reset(actor)


# What writing an output can fail with: files the commands name are wrapped where they are
# written (options.writing); these are left for the standard output (`> /dev/full`).
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE, errno.EIO}


def _quiet_stdout() -> None:
    """Point a standard output that cannot be written at /dev/null, so that what is still
    buffered does not fail again, with a traceback, at exit."""
    try:
        sys.stdout.flush()
    except OSError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):  # no file descriptor (a test's capture)
            pass


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
      facesearch cluster ./photos           group the faces of unsorted photos into people
    """


for command in (index, query, compare, analyze, people, reindex, check, calibrate, serve, classifier, watch):
    main.add_command(command)
for command in (cluster, correct, audit, reembed):  # the photo library (library_commands.py)
    main.add_command(command)
main.add_command(evaluate, name="eval")

__all__ = ["main"]
