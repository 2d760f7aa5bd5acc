"""`facesearch analyze`: gender of every face in photos (no database needed)."""
from __future__ import annotations

import sys

import click

from ..types import shown
from .options import (detector_option, face_place, format_gender, json_option, print_result, progress, report_errors,
                      unusable_note)


def format_analysis(r) -> str:
    lines = [shown(r.photo) + ("" if r.faces_found else "  (no face found: centre crop)")]
    lines += [f"  face {i}{face_place(f.face.box)}: {format_gender(f.attributes)}{unusable_note(f.face)}"
              for i, f in enumerate(r.faces, 1)]
    return "\n".join(lines)


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
    "score"}}, ...], "main": <position of the largest, most central face>, "faces_found": N}
    or, for a photo that could not be used, {"photo": ..., "error": reason}. A photo with no
    face found ("faces_found": 0) is answered for its centre crop (box null). The score is the model's
    probability of the label; faces the quality gate calls unusable are still answered,
    less reliably (docs/gender.md).
    """
    from ..gallery.attributes import Attributes
    from ..photos.scan import expand_paths

    paths, missing = expand_paths(list(photos))
    failed = report_errors(missing)
    attributes = Attributes(model)
    with progress(len(paths), "analyze") as bar:
        for batch in attributes.analyze(paths, detector or "mtcnn"):
            failed += sum(print_result(r, as_json, "photo", format_analysis) for r in batch)
            bar.update(len(batch))
    sys.exit(1 if failed else 0)
