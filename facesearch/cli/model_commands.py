"""CLI commands about models: calibrate, eval (`train` comes from the training package,
through the ``facesearch.commands`` entry point: training/cli.py)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .options import db_option, json_option, objective_option, open_gallery, plots_option, progress, report_errors


def _labelled_run(db, fn, *args, **kwargs):
    """Run calibrate/evaluate with a progress bar; per-file errors are printed, not fatal."""
    from ..photos.scan import scan_gallery

    gallery = open_gallery(db, None, None, None)
    total = len(scan_gallery(args[0], include_distorted=True))
    with progress(total, "embed") as bar:
        out = fn(gallery, *args, progress=bar.update, **kwargs)
    return gallery, out


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--target-fpir", default=None, type=click.FloatRange(0, 1, min_open=True),
              help="Identification (`query`): the share of queries of people NOT enrolled that may be "
              "accepted as someone, in a gallery the size of this database's.  [default: 0.01]")
@click.option("--target-far", default=0.01, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Verification (`compare`): false accepts per impostor comparison.")
@objective_option
@click.option("--force", is_flag=True, help="Calibrate even on less data than the targets need "
              "(10 / target queries or comparisons; 10 of each kind for f1).")
@plots_option
@db_option
@json_option
def calibrate(data_dir, target_fpir, target_far, objective, force, plots, db, as_json):
    """Choose and store the accept thresholds from genuine vs impostor similarities on DATA_DIR.

    DATA_DIR is labelled (person folders or FACECOM); queries are its distorted photos
    against its clean ones. Two rules are stored with the index's encoder: identification,
    used by `query` (a score floor and a margin the best identity must have over the
    runner-up, so that strangers are accepted at most --target-fpir of the time in a
    gallery of this database's size), and the verification threshold, used by `compare`.
    The thresholds they replace are printed. Plots: histogram.png, roc.png, det.png.
    """
    from ..evaluation import calibrate as C, metrics, plots as P

    gallery, (info, errors) = _labelled_run(db, C.calibrate, data_dir, objective=objective, target_far=target_far,
                                            target_fpir=target_fpir, force=force)
    genuine, impostor, det = info.pop("_genuine"), info.pop("_impostor"), info.pop("_det")
    verify = info["verification"]
    failed = report_errors(errors)
    if plots:
        out = Path(plots)
        out.mkdir(parents=True, exist_ok=True)
        P.histogram(genuine, impostor, {"identification": info["threshold"], "verification": verify["threshold"]},
                    out / "histogram.png")
        far, tar, _ = metrics.roc(genuine, impostor)
        P.roc_curve(far, tar, out / "roc.png", (max(verify["far"], 1e-7), verify["tar"]))
        fpir, fnir, ts, margin_curve = det
        P.det_curve(fpir, fnir, ts, out / "det.png", {"identification floor": info["threshold"],
                                                       "verification": verify["threshold"]}, margin_curve)
    if as_json:
        click.echo(json.dumps(info))
    else:
        goal = "max F1" if verify["objective"] == "f1" else f"FAR {target_far:g} per comparison"
        margin = "" if info.get("margin") is None else f", margin over the runner-up {info['margin']:.4f}"
        click.echo(f"identification threshold {info['threshold']:.4f}{margin} (query; FPIR {info['target']:g} in a gallery of "
                   f"{info['gallery_size']:,} identities): strangers accepted {info['fpir']:.4f}, enrolled people "
                   f"accepted with the right name {info['tpir']:.4f}\n"
                   f"  method: {info['method']}\n"
                   f"verification threshold {verify['threshold']:.4f} (compare; {goal}): TAR {verify['tar']:.4f}  "
                   f"FAR {verify['far']:.5f}  precision {verify['precision']:.4f}  recall {verify['recall']:.4f}  "
                   f"F1 {verify['f1']:.4f}\n"
                   f"{info['genuine_pairs']:,} genuine / {info['impostor_pairs']:,} impostor pairs, "
                   f"{info['queries']:,} queries; stored in {db}")
        if info["replaced"]:
            click.echo(f"replaced {_describe_threshold(info['replaced'])}")
    raise SystemExit(1 if failed else 0)


def _describe_threshold(info: dict) -> str:
    """``threshold 0.5300 (objective fpir, target 0.02, data /x, <date>)`` from stored info."""
    what = [f"{k} {info[k]:g}" if isinstance(info[k], float) else f"{k} {info[k]}"
            for k in ("objective", "target", "data") if info.get(k) is not None]
    what += [str(info["date"])] if info.get("date") else []
    return f"threshold {info['threshold']:.4f}" + (f" ({', '.join(what)})" if what else "")


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Write a Markdown report here (and the JSON beside it, .json).")
@plots_option
@click.option("--tsne", is_flag=True, help="Also plot a t-SNE of embeddings (needs scikit-learn).")
@db_option
@json_option
def evaluate(data_dir, report, plots, tsne, db, as_json):
    """Measure the index's encoder on labelled DATA_DIR: protocols A/B, per-distortion
    top-1, verification at the stored threshold, ROC AUC, TAR@FAR and an open-set test."""
    from ..evaluation import calibrate as C, metrics, plots as P
    from ..evaluation.report import markdown

    gallery, (rep, errors, data) = _labelled_run(db, C.evaluate, data_dir)
    genuine, impostor = rep.pop("_genuine"), rep.pop("_impostor")
    failed = report_errors(errors)
    if plots:
        out = Path(plots)
        out.mkdir(parents=True, exist_ok=True)
        if len(genuine) and len(impostor):  # one identity, or one photo each: nothing to plot
            P.histogram(genuine, impostor, rep["threshold"], out / "histogram.png")
            far, tar, _ = metrics.roc(genuine, impostor)
            P.roc_curve(far, tar, out / "roc.png")
        if "A" in rep["protocols"]:
            P.distortion_bars(rep["protocols"]["A"]["by_distortion"], out / "distortions.png")
        if tsne:
            P.tsne(data.emb, data.labels, out / "tsne.png")
    text = markdown(rep)
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(text)
        Path(report).with_suffix(".json").write_text(json.dumps(rep, indent=2))
    click.echo(json.dumps(rep) if as_json else text)
    raise SystemExit(1 if failed else 0)
