"""CLI commands about models: calibrate, eval (`train` comes from the training package,
through the ``facesearch.commands`` entry point: training/cli.py)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .options import (FiniteFloat, db_option, fail, json_option, objective_option, open_gallery, output_folder, plots_option,
                      progress, report_errors, writing)


def outside_the_data(option: str, path: str | None, data: str) -> None:
    """Refuse an output inside the labelled folder: plots there would be read as photos of a
    person (or as a person) next time, and a report could replace a photo."""
    if path and Path(path).resolve().is_relative_to(Path(data).resolve()):
        fail(f"{option} {path} is inside the data folder {data}: what is written there would be read as "
             "data next time; write it elsewhere")


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
@click.option("--target-fpir", default=None, type=FiniteFloat(0, 1, min_open=True),
              help="Identification (`query`): the share of queries of people NOT enrolled that may be "
              "accepted as someone, in a gallery the size of this database's.  [default: 0.01]")
@click.option("--target-far", default=0.01, show_default=True, type=FiniteFloat(0, 1, min_open=True),
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

    A model that ships its own calibration (the default model) decides without this; here
    your photos refine its rules, however few: each threshold moves towards what your data
    alone would give by the share of evidence they hold, n / (n + 10 / target), and the
    old and new values are printed with the reason.
    """
    from ..evaluation import calibrate as C

    outside_the_data("--plots", plots, data_dir)
    out = output_folder(plots) if plots else None  # a folder that cannot be made fails before the work
    gallery, (info, errors) = _labelled_run(db, C.calibrate, data_dir, objective=objective, target_far=target_far,
                                            target_fpir=target_fpir, force=force)
    genuine, impostor, det = info.pop("_genuine"), info.pop("_impostor"), info.pop("_det")
    verify = info["verification"]
    failed = report_errors(errors)
    if as_json:
        click.echo(json.dumps(info))
    else:
        goal = "max F1" if verify["objective"] == "f1" else f"FAR {target_far:g} per comparison"
        margin = "" if info.get("margin") is None else f", margin over the runner-up {info['margin']:.4f}"
        units = " in cohort units (refining the model's shipped calibration)" if info.get("cohort") else ""
        click.echo(f"identification threshold {info['threshold']:.4f}{margin}{units} (query; FPIR {info['target']:g} in a gallery of "
                   f"{info['gallery_size']:,} identities): strangers accepted {info['fpir']:.4f}, enrolled people "
                   f"accepted with the right name {info['tpir']:.4f}\n"
                   f"  method: {info['method']}\n"
                   f"verification threshold {verify['threshold']:.4f}{units} (compare; {goal}): TAR {verify['tar']:.4f}  "
                   f"FAR {verify['far']:.5f}  precision {verify['precision']:.4f}  recall {verify['recall']:.4f}  "
                   f"F1 {verify['f1']:.4f}\n"
                   f"{info['genuine_pairs']:,} genuine / {info['impostor_pairs']:,} impostor pairs, "
                   f"{info['queries']:,} queries; stored in {db}")
        if info["replaced"]:
            click.echo(f"replaced {_describe_threshold(info['replaced'])}")
        for line in changes(info):
            click.echo(line)
    if out:  # after the thresholds are stored and shown: a full disk loses only the plots
        with writing(f"plots to {out}"):
            _calibration_plots(out, info, genuine, impostor, det)
    raise SystemExit(1 if failed else 0)


def _calibration_plots(out: Path, info: dict, genuine, impostor, det) -> None:
    from ..evaluation import metrics, plots as P

    verify = info["verification"]
    P.histogram(genuine, impostor, {"identification": info["threshold"], "verification": verify["threshold"]},
                out / "histogram.png")
    far, tar, _ = metrics.roc(genuine, impostor)
    P.roc_curve(far, tar, out / "roc.png", (max(verify["far"], 1e-7), verify["tar"]))
    fpir, fnir, ts, margin_curve = det
    P.det_curve(fpir, fnir, ts, out / "det.png", {"identification floor": info["threshold"],
                                                   "verification": verify["threshold"]}, margin_curve)


def _value(rule: dict | None, units: str) -> str:
    if rule is None:
        return "none"
    margin = "" if rule.get("margin") is None else f" + margin {rule['margin']:.4f}"
    return f"{rule['threshold']:.4f}{margin} ({units})"


def changes(info: dict) -> list[str]:
    """Which threshold changed, from what (and whose) to what, and, when a shipped rule was
    refined, how far the user's data moved it and why."""
    from ..evaluation.refine import why

    units = "cohort units" if info.get("cohort") else "cosine"
    lines = []
    for kind, now, what in (("identification", info, "stranger searches"),
                            ("verification", info["verification"], "impostor comparisons")):
        old = info["previous"][kind]
        was = "none" if old is None else f"{_value(old, old['units'].replace('cohort', 'cohort units'))}, {old['calibration']}"
        command = "query" if kind == "identification" else "compare"
        lines.append(f"changed the {kind} threshold ({command}): {was} -> {_value(now, units)}, user")
        if now.get("refined"):
            lines.append(f"  {why(now['refined'], what)}")
    return lines


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
    from ..evaluation import calibrate as C
    from ..evaluation.report import markdown

    if report and Path(report).suffix.lower() == ".json":
        fail(f"--report {report}: the Markdown report and its JSON (written beside it, .json) would be one "
             "file; name the report .md")
    outside_the_data("--plots", plots, data_dir)
    outside_the_data("--report", report, data_dir)
    out = output_folder(plots) if plots else None  # what cannot be written fails before the work
    if report:
        output_folder(Path(report).parent)
    gallery, (rep, errors, data) = _labelled_run(db, C.evaluate, data_dir)
    genuine, impostor = rep.pop("_genuine"), rep.pop("_impostor")
    failed = report_errors(errors)
    text = markdown(rep)
    click.echo(json.dumps(rep) if as_json else text)  # first: a file that cannot be written loses nothing
    if report:
        with writing(report):
            Path(report).write_text(text)
        with writing(Path(report).with_suffix(".json")):
            Path(report).with_suffix(".json").write_text(json.dumps(rep, indent=2))
    if out:
        with writing(f"plots to {out}"):
            _evaluation_plots(out, rep, genuine, impostor, data if tsne else None)
    raise SystemExit(1 if failed else 0)


def _evaluation_plots(out: Path, rep: dict, genuine, impostor, tsne_data) -> None:
    from ..evaluation import metrics, plots as P

    if len(genuine) and len(impostor):  # one identity, or one photo each: nothing to plot
        P.histogram(genuine, impostor, rep["threshold"], out / "histogram.png")
        far, tar, _ = metrics.roc(genuine, impostor)
        P.roc_curve(far, tar, out / "roc.png")
    if "A" in rep["protocols"]:
        P.distortion_bars(rep["protocols"]["A"]["by_distortion"], out / "distortions.png")
    if tsne_data is not None:
        P.tsne(tsne_data.emb, tsne_data.labels, out / "tsne.png")
