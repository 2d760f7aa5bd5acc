"""`facesearch analyze`: gender of every face in photos (no database needed)."""
from __future__ import annotations

import json
import sys

import click

from ..types import shown
from .options import detector_option, face_place, format_gender, json_option, progress, report_errors, unusable_note


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option("--model", default=None, type=click.Path(dir_okay=False),
              help="Attribute model (.npz from `facesearch train --task gender`).  [default: the shipped one]")
@detector_option
@json_option
def analyze(photos, model, detector, as_json):
    """Gender of every face in each photo (files or folders), left to right.

    With --json, one line per photo:
    {"photo": ..., "faces": [{"box", "det_score", "quality", "gender": {"label": "male"|"female",
    "score"}}, ...], "main": <position of the largest, most central face>}
    or, for a photo that could not be used, {"photo": ..., "error": reason}. A photo with no
    face found is answered for its centre crop (box null). The score is the model's
    probability of the label; faces the quality gate calls unusable are still answered,
    less reliably (see README, "Gender").
    """
    from ..gallery.attributes import Attributes
    from ..photos.scan import expand_paths
    from ..types import FileError

    paths, missing = expand_paths(list(photos))
    failed = report_errors(missing)
    attributes = Attributes(model)
    with progress(len(paths), "analyze") as bar:
        for batch in attributes.analyze(paths, detector or "mtcnn"):
            for r in batch:
                if isinstance(r, FileError):
                    failed += report_errors([r])
                    if as_json:
                        click.echo(json.dumps({"photo": r.path, "error": r.reason}))
                elif as_json:
                    click.echo(json.dumps(r.as_dict()))
                else:
                    click.echo(shown(r.photo))
                    for i, f in enumerate(r.faces, 1):
                        click.echo(f"  face {i}{face_place(f.face.box)}: {format_gender(f.attributes)}"
                                   f"{unusable_note(f.face)}")
            bar.update(len(batch))
    sys.exit(1 if failed else 0)
