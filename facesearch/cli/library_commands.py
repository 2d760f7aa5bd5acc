"""Photo-library commands: cluster (and cluster name / list), correct, audit, and the
erasure behind ``people remove --erase``."""
from __future__ import annotations

import json
import sys

import click

from ..types import shown
from .options import (db_option, detector_option, json_option, model_option, no_flip_option, open_gallery, progress,
                      report_errors, weights_option)


class DefaultToRun(click.Group):
    """``cluster DIR`` runs ``cluster run DIR``; ``cluster name ID NAME`` and ``cluster list``
    are subcommands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _library(db, model=None, weights=None, detector=None, no_flip=False, create=False):
    from ..gallery.library import Library

    return Library(open_gallery(db, model, weights, detector, no_flip, create=create))


@click.group(cls=DefaultToRun)
def cluster():
    """Group the faces of unsorted photos into people, then name them.

    \b
      facesearch cluster DIR [--json]      detect, embed and cluster every face under DIR
      facesearch cluster list [--json]     the clusters and their faces
      facesearch cluster name ID NAME      enrol cluster ID's faces as NAME
    """


@cluster.command("run")
@click.argument("photo_dir", type=click.Path(exists=True))
@db_option
@model_option
@weights_option
@detector_option
@no_flip_option
@click.option("--threshold", type=click.FloatRange(-1, 1), default=None,
              help="Mean cosine similarity for two groups of faces to be one person (default: chosen on "
              "FACECOM train identities for the shipped model; set it for another encoder).")
@json_option
def cluster_run(photo_dir, db, model, weights, detector, no_flip, threshold, as_json):
    """Detect every face in the photos under PHOTO_DIR (no person folders needed), embed
    them and group them into people. Two faces of one photo are never one person; a face
    like no other stays unclustered; faces of enrolled people are named by the calibrated
    decision rule (and corrections). Incremental: photos stored already (same path, same
    bytes) are not embedded again, and new faces join the existing clusters.

    With --json, one line per face:
    {"photo": path, "face": i, "box": [x1, y1, x2, y2], "cluster": id or null, "identity": name or null}
    then one summary line {"photos", "embedded", "faces", "clusters", "unclustered", "identified",
    "no_face", "failed", "threshold", "seconds"}.
    """
    from ..photos.scan import expand_paths

    paths, missing = expand_paths([photo_dir])
    library = _library(db, model, weights, detector, no_flip, create=True)
    with progress(len(paths), "cluster") as bar:
        report = library.cluster(paths, threshold, progress=bar.update)
    failed = report_errors(missing + report.errors)
    summary = {**report.summary(), "failed": failed}
    if as_json:
        for f in report.faces:
            click.echo(json.dumps(f.as_dict()))
        click.echo(json.dumps(summary))
    else:
        by_cluster: dict = {}
        for f in report.faces:
            by_cluster.setdefault(f.cluster, []).append(f)
        for cid in sorted(c for c in by_cluster if c is not None):
            faces = by_cluster[cid]
            names = sorted({f.identity for f in faces if f.identity})
            click.echo(f"cluster {cid}: {len(faces)} faces" + (f" ({', '.join(map(shown, names))})" if names else "")
                       + "  e.g. " + ", ".join(shown(f.photo) for f in faces[:3]))
        if not report.calibrated:
            click.echo("note: no threshold calibrated: enrolled people are not named (run `facesearch calibrate`)",
                       err=True)
        click.echo(f"{summary['faces']} faces in {summary['photos']} photos ({summary['embedded']} embedded now, "
                   f"{summary['no_face']} without a face, {failed} failed): {summary['clusters']} clusters, "
                   f"{summary['unclustered']} unclustered, {summary['identified']} named; "
                   f"threshold {summary['threshold']}, {summary['seconds']} s")
    sys.exit(1 if failed else 0)


@cluster.command("list")
@db_option
@json_option
def cluster_list(db, as_json):
    """The clusters: id, name (once named) and faces (one JSON object per cluster with --json)."""
    for c in _library(db).clusters():
        if as_json:
            click.echo(json.dumps(c))
        else:
            name = f" {shown(c['name'])}" if c["name"] else ""
            click.echo(f"cluster {c['cluster']}{name}: {len(c['faces'])} faces  e.g. "
                       + ", ".join(shown(f["photo"]) for f in c["faces"][:3]))


@cluster.command("name")
@click.argument("cluster_id", type=int)
@click.argument("name")
@db_option
@json_option
def cluster_name(cluster_id, name, db, as_json):
    """Enrol the faces of cluster CLUSTER_ID as NAME (added to NAME if already enrolled)."""
    added = _library(db).name_cluster(cluster_id, name)
    if as_json:
        click.echo(json.dumps({"cluster": cluster_id, "identity": name, "added": added}))
    else:
        click.echo(f"cluster {cluster_id} enrolled as {shown(name)}: {added} photos added")


@click.command()
@click.argument("photo", required=False, type=click.Path())
@click.option("--not", "not_name", default=None, metavar="NAME", help="The face is not this enrolled person.")
@click.option("--face", type=click.IntRange(min=0), default=None,
              help="Which face, left to right from 0 (default: the largest, most central one).")
@click.option("--list", "list_", is_flag=True, help="List the stored corrections.")
@click.option("--undo", type=int, default=None, metavar="ID", help="Delete correction ID.")
@db_option
@json_option
def correct(photo, not_name, face, list_, undo, db, as_json):
    """Record that the face in PHOTO is not NAME: from now on that face, and faces closer
    to it than to NAME's own photos, are not accepted as NAME (nothing is retrained).

    \b
      facesearch correct photo.jpg --not alice     record a correction
      facesearch correct --list                    the corrections, with their ids
      facesearch correct --undo 3                  delete correction 3
    """
    if sum(bool(x) for x in (photo, list_, undo is not None)) != 1 or bool(photo) != bool(not_name):
        raise click.UsageError("give PHOTO --not NAME, or --list, or --undo ID")
    library = _library(db)
    if list_:
        for f in library.feedback():
            click.echo(json.dumps(f) if as_json else f"{f['id']}\t{shown(f['photo'])} face {f['face']}\t"
                       f"not {shown(f['not'])}\t{f['added']}")
    elif undo is not None:
        name = library.undo(undo)
        click.echo(json.dumps({"undone": undo, "not": name}) if as_json else f"correction {undo} undone ({shown(name)})")
    else:
        done = library.correct(photo, not_name, face)
        click.echo(json.dumps(done) if as_json else
                   f"correction {done['id']}: {shown(done['photo'])} face {done['face']} is not {shown(not_name)}")


@click.command()
@db_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the newest LIMIT entries.")
@json_option
def audit(db, limit, as_json):
    """The audit log: every write (enrol, rename, remove, erase, calibrate, feedback, cluster,
    index and vector-store settings),
    oldest first: when, what, on whom, by which command or API token id."""
    for a in _library(db).audit(limit):
        if as_json:
            click.echo(json.dumps(a))
        else:
            details = " ".join(f"{k}={v}" for k, v in a["details"].items())
            click.echo(f"{a['at']}  {a['action']:<13} {shown(a['target'] or '-'):<24} {a['actor']}  {details}")


def _recalibrate(gallery, folder: str) -> str:
    """Calibration redone for the new model on a labelled folder, or why it was not."""
    from ..errors import DataError
    from ..evaluation.calibrate import calibrate

    try:
        info, errors = calibrate(gallery, folder)
    except DataError as e:
        return f"cleared, not redone ({e}): run `facesearch calibrate` (--force for little data)"
    report_errors(errors)
    return (f"redone on {folder}: identification threshold {info['threshold']:.4f}, "
            f"verification threshold {info['verification']['threshold']:.4f}")


def erase_person(db: str, name: str, as_json: bool) -> None:
    """``people remove NAME --erase``: every copy of NAME's biometric data, then compaction."""
    report = _library(db).erase(name)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        click.echo(f"erased {shown(name)}: {report.photos} photos, "
                   + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.removed.items())
                   + (", classifier deleted (fit it again)" if report.classifier else "")
                   + f"; look-alikes found by the {report.recognised_by}; {report.compacted}")


@click.command()
@db_option
@model_option
@weights_option
@no_flip_option
@click.option("--switch", is_flag=True, help="Then move the gallery to the new model: every embedding and the "
              "encoder card replaced in one transaction, vectors rebuilt, thresholds cleared (calibrate again).")
@click.option("--drop-missing", is_flag=True, help="With --switch: remove the photos whose files are missing "
              "(otherwise --switch is refused while there are any).")
@click.option("--calibrate", "calibrate_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="With --switch: redo the calibration on this labelled folder afterwards (as `facesearch "
              "calibrate DIR`, default targets); without it the thresholds are cleared.")
@json_option
def reembed(db, model, weights, no_flip, switch, drop_missing, calibrate_dir, as_json):
    """Embed every stored photo again, from its file, with --model into a shadow table while
    the old vectors keep answering; print a before/after report on the gallery's own photos
    (leave-one-out top-1, genuine/impostor scores, answers that would change). Interrupted
    runs resume. Missing files are reported, never dropped unless --switch --drop-missing.
    --switch clears the old thresholds (the new model's shipped calibration applies where it
    has one); --calibrate DIR redoes them for the new model. Exit status 1 while photos are
    missing (not switched). Over REST: POST /v1/reembed (a background job)."""
    if not model:
        raise click.UsageError("--model NEW is required: the encoder to move to")
    if (drop_missing or calibrate_dir) and not switch:
        raise click.UsageError("--drop-missing and --calibrate go with --switch")
    library = _library(db)
    gallery = library.gallery
    with progress(sum(n for _, n in gallery.people()), "reembed") as bar:
        report = library.reembed(model, weights, not no_flip, switch, drop_missing, bar.update)
    if switch and calibrate_dir:
        report.calibration = _recalibrate(gallery, calibrate_dir)
    for e in report.missing + report.corrections_left:
        click.echo(f"warning: {shown(e.path)}: {e.reason}", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        _print_reembed(report)
    sys.exit(1 if report.missing and not report.switched else 0)  # photos left behind: a script must see it


def _print_reembed(report) -> None:
    click.echo(f"{report.model}: {report.photos} photos, {report.embedded_now} embedded now, {report.resumed} "
               f"earlier, {len(report.missing)} missing")
    for when, figures in (("before", report.before), ("after", report.after)):
        if figures:
            click.echo(f"  {when}: leave-one-out top-1 {figures['loo_top1']} ({figures['loo_queries']} queries); "
                       f"genuine {figures['genuine'].get('mean')} impostor {figures['impostor'].get('mean')} (mean)")
    click.echo(f"  answers that would change: {report.changed}; "
               + (f"SWITCHED ({report.corrections_carried} corrections carried, {len(report.corrections_left)} not)"
                  if report.switched else "not switched (--switch)") + f"; calibration {report.calibration}")
