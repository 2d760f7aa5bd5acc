"""Gallery commands: index, query, compare, people, reindex, check."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (db_option, detector_option, ef_search_option, index_type_option, json_option, model_option,
                      no_flip_option, nprobe_option, open_gallery, progress, report_errors, sub_db_option,
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
@index_type_option
@nprobe_option
@ef_search_option
@json_option
def index(gallery_dir, db, model, weights, detector, no_flip, include_distorted, prune, require_face,
          index_type, nprobe, ef_search, as_json):
    """Enrol every person folder of GALLERY_DIR (identity = folder name).

    Incremental: photos already enrolled (same person, same bytes) are not embedded again.
    """
    from ..photos.scan import person_folders, scan_gallery

    items = scan_gallery(gallery_dir, include_distorted)
    with_photos = {name for name, _ in items}
    for folder in person_folders(gallery_dir):
        if folder.name not in with_photos:
            click.echo(f"warning: {folder}: no photos, identity not enrolled", err=True)
    gallery = open_gallery(db, model, weights, detector, no_flip, create=True)
    if index_type or nprobe or ef_search:
        gallery.set_index_type(index_type, nprobe=nprobe, ef_search=ef_search)
    with progress(len(items), "index") as bar:
        rep = gallery.enroll(items, prune_under=Path(gallery_dir) if prune else None,
                             require_face=require_face, progress=bar.update)
    failed = report_errors(rep.errors)
    summary = {"added": rep.added, "skipped": rep.skipped, "removed": rep.removed, "failed": failed,
               "no_face": rep.no_face, "identities": len(gallery.people()), "photos": len(gallery.index)}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"added {rep.added}, unchanged {rep.skipped}, removed {rep.removed}, failed {failed} "
                   f"({rep.no_face} without a detected face); {summary['identities']} identities, "
                   f"{summary['photos']} photos in {db}")
    sys.exit(1 if failed else 0)


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option("--k", "k", default=5, show_default=True, type=click.IntRange(min=1), help="Identities to return.")
@click.option("--threshold", type=float, default=None, help="Accept threshold for this call (default: calibrated).")
@db_option
@model_option
@weights_option
@nprobe_option
@ef_search_option
@json_option
def query(photos, k, threshold, db, model, weights, nprobe, ef_search, as_json):
    """Top-k identities for each photo (files or folders), with cosine scores.

    With --json, one line per photo:
    {"query": ..., "matches": [{"identity", "score", "photo"}, ...], "accepted": true|false|null}
    """
    from ..photos.scan import expand_paths
    from ..types import FileError

    paths = expand_paths(list(photos))
    gallery = open_gallery(db, model, weights, None)
    gallery.search_params = {k: v for k, v in (("nprobe", nprobe), ("ef_search", ef_search)) if v}
    failed = 0
    with progress(len(paths), "query") as bar:
        results = gallery.identify(paths, k=k, threshold=threshold, progress=bar.update)
    for r in results:
        if isinstance(r, FileError):
            failed += report_errors([r])
        elif as_json:
            click.echo(json.dumps(r.as_dict()))
        else:
            click.echo(format_result(r))
    sys.exit(1 if failed else 0)


def format_result(r) -> str:
    lines = [f"{r.query}" + ("" if r.face is None or r.face.detected else "  (no face found: centre crop)")]
    for i, m in enumerate(r.matches, 1):
        lines.append(f"  {i:>2}. {m.identity:<30} {m.score:7.4f}  {m.photo}")
    if not r.matches:
        lines.append("  (gallery is empty)")
    if r.accepted is None:
        lines.append("  -> no threshold calibrated (run `facesearch calibrate`)")
    elif r.accepted:
        lines.append(f"  -> ACCEPTED {r.matches[0].identity} ({r.matches[0].score:.3f})")
    else:
        lines.append("  -> UNKNOWN")
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
    """Cosine similarity of the faces in two photos (uses the index's encoder, or --model)."""
    from ..types import FileError

    if model:  # no database needed
        from ..encoders import create_encoder
        from ..faces.pipeline import Embedder
        from ..gallery import compare_photos

        res = compare_photos(Embedder(create_encoder(model, weights), detector or "mtcnn"), photo_a, photo_b)
        threshold = None
    else:
        gallery = open_gallery(db, None, None, detector)
        res = gallery.compare(Path(photo_a), Path(photo_b))
        threshold = gallery.meta.threshold
    if isinstance(res, FileError):
        report_errors([res])
        sys.exit(1)
    same = None if threshold is None else res >= threshold
    if as_json:
        click.echo(json.dumps({"a": photo_a, "b": photo_b, "score": round(res, 6), "same": same}))
    else:
        verdict = "" if same is None else ("  same person" if same else "  different people")
        click.echo(f"{res:.4f}{verdict}")


@click.group(invoke_without_command=True)
@db_option
@json_option
@click.pass_context
def people(ctx, db, as_json):
    """List enrolled identities with photo counts (subcommands: rename, remove)."""
    ctx.obj = db
    if ctx.invoked_subcommand:
        return
    gallery = open_gallery(db, None, None, None)
    rows = gallery.people()
    if as_json:
        for name, n in rows:
            click.echo(json.dumps({"identity": name, "photos": n}))
    else:
        for name, n in rows:
            click.echo(f"{name}\t{n}")
        click.echo(f"{len(rows)} identities, {sum(n for _, n in rows)} photos", err=True)


@people.command("rename")
@click.argument("old")
@click.argument("new")
@sub_db_option
@click.pass_obj
def people_rename(db, old, new, sub_db):
    """Rename identity OLD to NEW."""
    open_gallery(sub_db or db, None, None, None).rename(old, new)
    click.echo(f"renamed {old} -> {new}")


@people.command("remove")
@click.argument("name")
@sub_db_option
@click.pass_obj
def people_remove(db, name, sub_db):
    """Remove identity NAME, its photos and their vectors."""
    n = open_gallery(sub_db or db, None, None, None).remove(name)
    click.echo(f"removed {name} ({n} photos)")


@click.command()
@db_option
def reindex(db):
    """Rebuild the FAISS index file from the embeddings stored in the database."""
    n = open_gallery(db, None, None, None).reindex()
    click.echo(f"index rebuilt: {n} vectors")


@click.command()
@db_option
def check(db):
    """Verify that the index file and the database agree (exit 1 if not)."""
    problems = open_gallery(db, None, None, None).check()
    for p in problems:
        click.echo(f"inconsistent: {p}", err=True)
    if problems:
        click.echo("run `facesearch reindex` to repair", err=True)
        sys.exit(1)
    click.echo("ok: database and index agree")
