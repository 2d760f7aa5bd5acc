"""Gallery commands: index, query, compare, people, reindex, check."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..config import DECIDERS, HOW_TO_CALIBRATE, QUALITY_GATES
from ..types import shown
from .options import (db_option, detector_option, ef_search_option, face_place, format_gender, index_type_option,
                      json_option, model_option, no_flip_option, nprobe_option, open_gallery, print_result,
                      progress, report_errors, sub_db_option, threshold_option, unusable_note, vectors_option,
                      weights_option)


@click.command()
@click.argument("gallery_dir", type=click.Path(exists=True, file_okay=False))
@db_option
@model_option
@weights_option
@detector_option
@no_flip_option
@click.option("--include-distorted", is_flag=True, help="FACECOM layout: also enrol <person>/distortion/*.")
@click.option("--prune", is_flag=True, help="Remove photos and people under GALLERY_DIR that are gone from disk.")
@click.option("--require-face", is_flag=True, help="Fail photos where no face is detected (default: centre crop).")
@click.option("--quality-gate", type=click.Choice(QUALITY_GATES), default="warn", show_default=True,
              help="Photos whose face is unusable (washed out, black, tiny, turned away): warn and enrol "
              "them, or skip them.")
@index_type_option
@nprobe_option
@ef_search_option
@vectors_option
@json_option
def index(gallery_dir, db, model, weights, detector, no_flip, include_distorted, prune, require_face,
          quality_gate, index_type, nprobe, ef_search, vectors, as_json):
    """Enrol every person folder of GALLERY_DIR (identity = folder name).

    Incremental: photos already enrolled (same person, same bytes) are not embedded again;
    a photo whose file changed replaces its old version. What is not a photo of a person
    folder is listed as ignored, with the reason.
    """
    from ..gallery import EnrollReport
    from ..photos.scan import walk_gallery

    scan = walk_gallery(gallery_dir, include_distorted)
    for path, reason in scan.ignored:
        click.echo(f"warning: {shown(path)}: ignored: {reason}", err=True)
    for folder in scan.empty_folders:
        click.echo(f"warning: {shown(folder)}: no photos, identity not enrolled", err=True)
    if scan.distorted_skipped:
        click.echo(f"note: {scan.distorted_skipped} photos in distortion/ folders left out "
                   "(--include-distorted enrols them)", err=True)
    gallery = open_gallery(db, model, weights, detector, no_flip, create=True, vectors=vectors)
    if index_type or nprobe or ef_search:
        gallery.set_index_type(index_type, nprobe=nprobe, ef_search=ef_search)
    rep = EnrollReport()
    try:
        with progress(len(scan.items), "index") as bar:
            gallery.enroll(scan.items, prune_under=Path(gallery_dir) if prune else None, require_face=require_face,
                           progress=bar.update, report=rep, quality_gate=quality_gate, keep_under=scan.unreadable)
    except KeyboardInterrupt:
        report_errors(scan.errors + rep.errors)
        click.echo(f"interrupted: {rep.added} photos were saved before the interruption (each batch is saved "
                   "whole); run the same command again to finish", err=True)
        sys.exit(130)
    failed = report_errors(scan.errors + rep.errors)
    for path, reasons in rep.unusable:
        click.echo(f"warning: {shown(path)}: face unusable ({'; '.join(reasons)})"
                   + ("; not enrolled" if quality_gate == "skip" else ""), err=True)
    summary = {"added": rep.added, "skipped": rep.skipped, "removed": rep.removed, "failed": failed,
               "no_face": rep.no_face, "identities": len(gallery.people()), "photos": len(gallery.index),
               "replaced": rep.replaced, "ignored": len(scan.ignored), "unusable": len(rep.unusable)}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"added {rep.added}, unchanged {rep.skipped}, removed {rep.removed}, failed {failed} "
                   f"({rep.no_face} without a detected face"
                   + (f", {rep.replaced} replaced a changed file" if rep.replaced else "")
                   + (f", {len(scan.ignored)} files ignored" if scan.ignored else "")
                   + (f", {len(rep.unusable)} unusable faces" if rep.unusable else "")
                   + f"); {summary['identities']} identities, {summary['photos']} photos in {gallery.store.label}")
    sys.exit(1 if failed else 0)


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option("--k", "k", default=5, show_default=True, type=click.IntRange(min=1), help="Identities to return.")
@threshold_option
@db_option
@model_option
@weights_option
@nprobe_option
@ef_search_option
@click.option("--all-faces", is_flag=True, help="Identify every detected face, left to right (JSON: \"faces\"), "
              "not only the largest, most central one.")
@click.option("--decider", type=click.Choice(DECIDERS), default="nn", show_default=True,
              help="Who is named: nn (nearest neighbour) or svc (the classifier of `facesearch classifier fit`; "
              "adds \"probability\" to each match; unknowns are decided by the calibrated score floor alone).")
@click.option("--attributes", is_flag=True, help="Also the gender of each face (JSON: \"gender\": {\"label\", "
              "\"score\"}), by the shipped gender model, as `facesearch analyze`.")
@json_option
def query(photos, k, threshold, db, model, weights, nprobe, ef_search, all_faces, decider, attributes, as_json):
    """Top-k identities for each photo (files or folders), with cosine scores.

    With --json, one line per photo:
    {"query": ..., "matches": [{"identity", "score", "photo"}, ...], "accepted": true|false|null,
    "face_found": false where no face was found and its centre crop was searched}
    (--all-faces adds "faces": [{"box", "det_score", "quality", "matches", "accepted", "margin"}];
    --attributes adds "gender": {"label", "score"} to the photo and to each face)
    or, for a photo that could not be used, {"query": ..., "error": reason}.
    """
    from ..photos.scan import expand_paths
    from ..types import FileError

    paths, missing = expand_paths(list(photos))
    gallery = open_gallery(db, model, weights, None)
    gallery.search_params = {k: v for k, v in (("nprobe", nprobe), ("ef_search", ef_search)) if v}
    failed = report_errors(missing)
    with progress(len(paths), "query") as bar:
        results = gallery.identify(paths, k=k, threshold=threshold, progress=bar.update, all_faces=all_faces,
                                   decider=decider, attributes=attributes)
    for warning in next((r.warnings for r in results if not isinstance(r, FileError)), []):
        click.echo(f"warning: {warning}", err=True)
    failed += sum(print_result(r, as_json, "query", format_result) for r in results)
    sys.exit(1 if failed else 0)


DECIDED_BY = {"shipped": "the model's shipped calibration", "user": "your calibration",
              "threshold": "decided by --threshold", None: "no calibration"}


def unknown_reason(r) -> str:
    """Why the best match was not accepted (``r.reason``), with the numbers of the rule
    that decided for this face."""
    rule = r.rule
    if rule is None or not r.matches or r.reason is None:
        return ""
    best = r.matches[0].score
    if best < rule.score:
        return f" ({r.reason}): best score {best:.3f} is below the {rule.score:.3f} this face needs"
    if rule.margin is None:
        return f" ({r.reason})"
    if r.margin is None:  # k=1: the runner-up was searched, not shown
        return f" ({r.reason}): not {rule.margin:.3f} ahead of the next identity"
    return f" ({r.reason}): only {r.margin:.3f} ahead of the next identity (needs {rule.margin:.3f})"


def format_result(r) -> str:
    from ..gallery.decision import UNUSABLE

    lines = [shown(r.query) + ("" if r.face is None or r.face.detected else "  (no face found: centre crop)")]
    for i, m in enumerate(r.matches, 1):
        lines.append(f"  {i:>2}. {shown(m.identity):<30} {m.score:7.4f}  {shown(m.photo)}")
    if not r.matches:
        lines.append("  (gallery is empty)")
    if r.attributes:
        lines.append(f"  gender: {format_gender(r.attributes)}")
    quality = r.face.quality if r.face is not None else None
    if quality is not None and not quality.usable:
        lines.append(f"  -> UNUSABLE FACE: {'; '.join(quality.reasons)}: no identity can be accepted")
    elif r.accepted is None:
        lines.append(f"  -> no threshold calibrated for this model: {HOW_TO_CALIBRATE}")
    elif r.accepted:
        margin = f", {r.margin:.3f} ahead of the next" if r.margin is not None else ""
        lines.append(f"  -> ACCEPTED {shown(r.matches[0].identity)} ({r.matches[0].score:.3f}{margin}; "
                     f"{DECIDED_BY[r.calibration]})")
    else:
        lines.append(f"  -> UNKNOWN{unknown_reason(r)}; {DECIDED_BY[r.calibration]}")
    for i, f in enumerate(r.faces or [], 1):
        best = f"{shown(f.matches[0].identity)} {f.matches[0].score:.4f}" if f.matches else "(gallery is empty)"
        verdict = {None: "", True: "  ACCEPTED", False: "  UNKNOWN"}[f.accepted]
        if f.accepted is False and f.reason and f.reason != UNUSABLE:  # that one has its own note
            verdict += f" ({f.reason})"
        gender = f"  {format_gender(f.attributes)}" if f.attributes else ""
        lines.append(f"  face {i}{face_place(f.box)}: {best}{verdict}{unusable_note(f.face)}{gender}")
    return "\n".join(lines)


@click.command()
@click.argument("photo_a", type=click.Path())
@click.argument("photo_b", type=click.Path())
@db_option
@model_option
@weights_option
@detector_option
@json_option
def compare(photo_a, photo_b, db, model, weights, detector, as_json):
    """Are the faces in two photos one person? Prints the cosine similarity and the decision
    of the verification calibration: the database's (`calibrate`), else the one shipped with
    the model (uses the index's encoder, or --model without a database).

    With --json: {"a", "b", "score", "same": true|false|null, "threshold": the score these two
    faces needed, "calibration": "shipped"|"user"|null, "face_found": {"a", "b"}} (false: no
    face was found in that photo and its centre crop was compared).
    """
    from ..gallery.decision import verifier_of, verify_photos
    from ..types import FileError

    if model:  # no database needed
        from ..encoders import create_encoder
        from ..faces.pipeline import Embedder

        encoder = create_encoder(model, weights)
        res = verify_photos(Embedder(encoder, detector or "mtcnn"), photo_a, photo_b, verifier_of(None, encoder.card))
    else:
        res = open_gallery(db, None, None, detector).verify(Path(photo_a), Path(photo_b))
    if isinstance(res, FileError):
        report_errors([res])
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"a": photo_a, "b": photo_b, **res.as_dict()}))
    elif res.same is None:
        click.echo(f"{res.score:.4f}  undecided: no verification threshold for this model; {HOW_TO_CALIBRATE}"
                   + no_face_note(res.no_face(photo_a, photo_b)))
    else:
        verdict = "SAME PERSON" if res.same else "DIFFERENT PEOPLE"
        click.echo(f"{res.score:.4f}  {verdict} (these two faces need {res.needed:.4f}; {DECIDED_BY[res.calibration]})"
                   + no_face_note(res.no_face(photo_a, photo_b)))


def no_face_note(photos: list) -> str:
    return f"  (no face found in {' and '.join(map(shown, photos))}: centre crop compared)" if photos else ""


@click.group(invoke_without_command=True)
@db_option
@json_option
@click.pass_context
def people(ctx, db, as_json):
    """List enrolled identities with photo counts (subcommands: rename, remove)."""
    ctx.obj = {"db": db, "json": as_json}
    if ctx.invoked_subcommand:
        return
    gallery = open_gallery(db, None, None, None)
    rows = gallery.people()
    if as_json:
        from ..types.records import Person

        for name, n in rows:
            click.echo(json.dumps(Person(identity=name, photos=n).as_dict()))
    else:
        for name, n in rows:
            click.echo(f"{shown(name)}\t{n}")
        click.echo(f"{len(rows)} identities, {sum(n for _, n in rows)} photos", err=True)


@people.command("rename")
@click.argument("old")
@click.argument("new")
@sub_db_option
@json_option
@click.pass_obj
def people_rename(parent, old, new, sub_db, as_json):
    """Rename identity OLD to NEW (re-indexing its folder keeps the new name)."""
    open_gallery(sub_db or parent["db"], None, None, None).rename(old, new)
    if as_json or parent["json"]:
        click.echo(json.dumps({"renamed": old, "to": new}))
    else:
        click.echo(f"renamed {shown(old)} -> {shown(new)}")


@people.command("remove")
@click.argument("name")
@sub_db_option
@click.option("--erase", is_flag=True, help="Also every other copy of NAME's biometric data (cached embeddings, "
              "corrections, library faces, classifier; vectors rebuilt), then compact the database.")
@json_option
@click.pass_obj
def people_remove(parent, name, sub_db, erase, as_json):
    """Remove identity NAME, its photos and their vectors (--erase: for real, see its help)."""
    if erase:
        from .library_commands import erase_person

        return erase_person(sub_db or parent["db"], name, as_json or parent["json"])
    n = open_gallery(sub_db or parent["db"], None, None, None).remove(name)
    if as_json or parent["json"]:
        click.echo(json.dumps({"removed": name, "photos": n}))
    else:
        click.echo(f"removed {shown(name)} ({n} photos)")


@click.command()
@db_option
def reindex(db):
    """Rebuild the vectors (FAISS file or Milvus collection) from the embeddings stored in
    the database (damaged embeddings, which `check` lists, are left out)."""
    n = open_gallery(db, None, None, None).reindex()
    click.echo(f"index rebuilt: {n} vectors")


@click.command()
@db_option
def check(db):
    """Verify the database (SQLite's integrity check of a file), every stored embedding (size,
    finite, unit norm) and the vectors, FAISS file or Milvus collection (this database's,
    current, same photos); exit 1 on any problem."""
    from ..config import is_database_url
    from ..errors import StoreError

    try:
        problems = open_gallery(db, None, None, None).check()
    except StoreError as e:  # a file too damaged to open is check's finding, not its failure
        problems = [f"database: {e}"]
    for p in problems:
        click.echo(f"inconsistent: {shown(p)}", err=True)
    if any(p.startswith("database:") for p in problems) and not is_database_url(db):
        click.echo("the database file is damaged: restore a backup, or index the gallery into a new --db", err=True)
    elif any("stored embedding is damaged" in p for p in problems):
        click.echo("damaged embeddings are never searched; re-index their photos into a new --db to "
                   "get them back, and `facesearch reindex` to repair the index", err=True)
    elif problems:
        click.echo("run `facesearch reindex` to repair", err=True)
    if problems:
        sys.exit(1)
    click.echo("ok: database, embeddings and index agree")
