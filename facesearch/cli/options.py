"""Options and helpers shared by the CLI modules, defined once."""
from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from ..config import DETECTORS, INDEX_KINDS, OBJECTIVES, default_db
from ..errors import OutputError


class FiniteFloat(click.FloatRange):
    """A float option, optionally bounded, that refuses nan and inf (a usage error, exit 2):
    click's FloatRange lets nan through every bound, and a nan threshold accepts no one or
    anyone. Every float option of the CLI is one of these."""

    name = "float"

    def _describe_range(self) -> str:  # click writes an unbounded range as "x<=None"
        return "finite" if self.min is None and self.max is None else super()._describe_range()

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"must be a finite number, not {value}", param, ctx)
        return super().convert(number, param, ctx)


finite_float = FiniteFloat()
threshold_option = click.option(
    "--threshold", type=finite_float, default=None,
    help="Accept by this cosine score alone (default: the calibrated rule, score floor + margin over "
    "the runner-up).")

db_option = click.option("--db", "db", default=default_db, show_default="$FACESEARCH_DB or ./facesearch.db",
                         type=click.Path(dir_okay=False), help="SQLite database file (the FAISS index lives "
                         "beside it) or a PostgreSQL URL, postgresql://user@host:port/dbname.")
# on `people` subcommands: None means "the --db given to `people`, or the default"
sub_db_option = click.option("--db", "sub_db", default=None, type=click.Path(dir_okay=False),
                             help="SQLite file or PostgreSQL URL (also accepted before the subcommand).")
model_option = click.option("--model", default=None, help="Encoder: 'default' (the shipped model), 'sface' "
                            "(OpenCV Zoo's SFace), a graph exported by `python -m training.export_onnx` (.onnx); "
                            "with the train extra also a name (mobilefacenet, facenet[:vggface2], timm:<model>) or "
                            "a facesearch checkpoint (.pt). Queries default to the encoder the index was built with.")
weights_option = click.option("--weights", default=None, help="State dict for --model when it is a name.")
detector_option = click.option("--detector", type=click.Choice(DETECTORS), default=None,
                               help="mtcnn: detect + 5-point align (default). none: photos are already "
                               "face crops; centre-crop them.")
index_type_option = click.option("--index-type", type=click.Choice(INDEX_KINDS), default=None,
                                 help="FAISS index: flat (exact), ivf, hnsw; auto = flat up to 20,000 photos, "
                                 "hnsw above. Stored in the DB.  [default: auto]")
vectors_option = click.option("--vectors", default=None, metavar="faiss|milvus:URI",
                              help="Where the vectors are searched: faiss (default: a file beside the database, "
                              "or in the cache folder for a PostgreSQL --db) or milvus:URI, a Milvus Lite file "
                              "(milvus:./vectors.db) or server (milvus:http://host:19530, token in $MILVUS_TOKEN). "
                              "Stored in the DB; a DB given another moves its vectors there.")
nprobe_option = click.option("--nprobe", type=click.IntRange(min=1), default=None,
                             help="IVF lists visited per query (recall vs speed).")
ef_search_option = click.option("--ef-search", type=click.IntRange(min=1), default=None,
                                help="HNSW candidate list size per query (recall vs speed).")
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line on stdout.")
no_flip_option = click.option("--no-flip", is_flag=True, help="Do not add the mirrored face's embedding.")


plots_option = click.option("--plots", type=click.Path(file_okay=False), default=None,
                            help="Folder for PNG plots (created if missing).")
objective_option = click.option(
    "--objective", type=click.Choice(OBJECTIVES), default=None,
    help="How the verification threshold (`compare`) is chosen: far (default: --target-far false "
    "accepts per comparison) or f1 (best pair F1). fpir: as in the first release, --target-far is "
    "then the identification target unless --target-fpir is given.")


def face_place(box) -> str:
    """Where a face is, for text output: `` at x1,y1,x2,y2`` or the centre-crop note."""
    return " (centre crop, no face found)" if box is None else " at " + ",".join(f"{v:.0f}" for v in box)


def unusable_note(face) -> str:
    """``  (unusable face)`` when the quality gate says so."""
    return "" if face.quality is None or face.quality.usable else "  (unusable face)"


def format_gender(attributes: dict | None) -> str:
    """``male 0.97`` (or empty): how text output shows a face's attributes."""
    g = (attributes or {}).get("gender")
    return "" if g is None else f"{g.label} {g.score:.2f}"


def print_result(r, as_json: bool, key: str, text) -> int:
    """One result: a JSON line, or ``text(r)``. A FileError goes to stderr (and, with
    ``as_json``, a ``{key: path, "error": reason}`` line); returns how many failed (0 or 1)."""
    from ..types import FileError

    if isinstance(r, FileError):
        report_errors([r])
        if as_json:
            click.echo(json.dumps({key: r.path, "error": r.reason}))
        return 1
    click.echo(json.dumps(r.as_dict()) if as_json else text(r))
    return 0


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def report_errors(errors) -> int:
    for e in errors:
        click.echo(str(e), err=True)
    return len(errors)


def progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="photo", disable=None, file=sys.stderr, dynamic_ncols=True)


def open_gallery(db: str, model: str | None, weights: str | None, detector: str | None,
                 no_flip: bool = False, create: bool = False, vectors: str | None = None):
    """The Gallery facade for ``db``; waits are reported on stderr."""
    from ..gallery import Gallery

    return Gallery.open(db, model, weights, detector, flip=not no_flip, create=create,
                        on_wait=lambda msg: click.echo(f"note: {msg}", err=True), vectors=vectors)


@contextmanager
def writing(what: str | Path):
    """Any OSError inside (disk full, no permission, not a folder...) becomes an
    :class:`OutputError` naming ``what`` was being written."""
    try:
        yield
    except OSError as e:
        raise OutputError(f"cannot write {what}: {e.strerror or e}") from None


def output_folder(path: str | Path) -> Path:
    """``path`` created as a folder for outputs (an OutputError if it cannot be), before the
    work whose results go there."""
    path = Path(path)
    with writing(path):
        path.mkdir(parents=True, exist_ok=True)
    return path
