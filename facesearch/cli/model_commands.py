"""CLI commands about models: train, calibrate, eval."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import MARGIN_KINDS, OPTIMIZERS, TRAIN_TASKS
from .options import (FiniteFloat, db_option, fail, finite_float, json_option, objective_option, open_gallery,
                      output_folder, plots_option, progress, report_errors, writing)


@click.command()
@click.argument("train_dir", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--task", type=click.Choice(TRAIN_TASKS), default="identity", show_default=True,
              help="identity: fine-tune the encoder (below). gender: fit the small gender head on the "
              "embeddings of --encoder/--weights (default: the shipped model) from TRAIN_DIR/<class>/*.jpg, "
              "chosen by balanced accuracy in folds of the training identities; --val is only reported; "
              "writes --out/gender.npz, report.json, confusion.png. Uses --val, --out, --seed only.")
@click.option("--val", "val_dir", type=click.Path(exists=True, file_okay=False),
              help="Labelled folder scored each epoch (protocols A and B). Without --holdout best.pt is kept "
              "by its B, then A; with --holdout it is only reported.")
@click.option("--holdout", type=FiniteFloat(0, 1, max_open=True), default=None,
              help="Hold out this fraction of the training identities (chosen by --seed, e.g. 0.15); protocols "
              "A and B on them choose best.pt and early stopping. --val is then only reported (val_* in "
              "history.json), never used for a choice.  [default: 0: choose on --val]")
@click.option("--encoder", default=None, help="Encoder family to train.  [default: mobilefacenet; gender: default]")
@click.option("--weights", default=None, help="Starting weights: a state dict or a facesearch checkpoint.")
@click.option("--out", default="runs/train", show_default=True, type=click.Path(file_okay=False),
              help="Folder for best.pt, last.pt and history.json.")
@click.option("--epochs", default=None, type=click.IntRange(min=1), help="Epochs in all  [default: 10].")
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=2),
              help="Photos per step (under torchrun: in all processes together).")
@click.option("--lr", default=1e-3, show_default=True, type=finite_float)
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adamw", show_default=True)
@click.option("--margin", default=0.3, show_default=True, type=finite_float, help="Angular margin m.")
@click.option("--scale", default=32.0, show_default=True, type=finite_float, help="Logit scale s.")
@click.option("--margin-kind", type=click.Choice(MARGIN_KINDS), default="arcface",
              show_default=True)
@click.option("--freeze", default=None, help="Last frozen stage (e.g. features.5 for MobileFaceNet); the frozen "
              "trunk then runs once and its features are cached.")
@click.option("--augment", is_flag=True, help="On-the-fly synthetic distortions (for clean-only data; "
              "not with --freeze on MobileFaceNet).")
@click.option("--pair-weight", type=finite_float, default=None,
              help="Stage 2: weight of a contrastive loss pulling distorted crops to their clean source "
              "(0 = off).  [default: 0]")
@click.option("--patience", default=4, show_default=True, type=int, help="Early stopping patience (epochs).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--resume", type=click.Path(exists=True, dir_okay=False), help="Continue from a last.pt.")
def train(train_dir, val_dir, resume, task, **options):
    """Fine-tune an encoder with an ArcFace margin head on TRAIN_DIR (person folders or FACECOM).

    \b
      facesearch train ../shared/data/facecom/train --val ../shared/data/facecom/val \\
          --encoder mobilefacenet --weights mobilefacenet_ms1m.pt --epochs 20 --out runs/facecom
      facesearch train --resume runs/facecom/last.pt
      facesearch train --task gender ../shared/data/facecom_gender/train \\
          --val ../shared/data/facecom_gender/val --out runs/gender

    Several processes (DistributedDataParallel; gloo on CPU, NCCL with one GPU each); the
    same arguments, --batch-size is then split between the processes:

    \b
      torchrun --nproc-per-node 2 -m facesearch.training ../shared/data/facecom/train ...
    """
    from training import distributed, log_to_stderr

    if task == "gender":
        return _train_gender(train_dir, val_dir, options)
    from training.trainer import TrainConfig, Trainer

    log_to_stderr()
    if not (train_dir or resume):
        fail("give TRAIN_DIR, or --resume runs/.../last.pt")
    if not resume:
        output_folder(options["out"])  # an --out that cannot be written fails now, not after an epoch
    finished = False
    try:
        if resume:  # only --epochs may change on resume: the rest is the checkpoint's recipe
            trainer = Trainer.resume(resume, **({"epochs": options["epochs"]} if options["epochs"] else {}))
        else:
            options = {k: v for k, v in options.items() if v is not None}
            trainer = Trainer(TrainConfig(train_dir=train_dir, val_dir=val_dir, **options))
        result = trainer.fit()
        main, out = trainer.world.main, trainer.cfg.out
        del trainer  # its DDP model holds the process group, which stop() must be able to end
        finished = True
    finally:
        distributed.stop(finished)  # after a failure, no barrier: the other ranks may never reach it
    if not main:  # under torchrun, rank 0 reports
        return
    best = result["best"]
    click.echo(f"best epoch {best['epoch']}: {json.dumps(best['metrics'])}")
    click.echo(f"use it: facesearch index <gallery> --model {Path(out) / 'best.pt'}")


def _train_gender(train_dir, val_dir, options):
    from training import log_to_stderr
    from training.gender import train_gender

    if not train_dir:
        fail("give TRAIN_DIR (one folder per class)")
    log_to_stderr()
    out = options["out"] if options["out"] != "runs/train" else "runs/gender"
    for data in filter(None, (train_dir, val_dir)):
        _outside_the_data("--out", out, data)  # confusion.png would be a photo of a class there
    out = output_folder(out)
    rep = train_gender(train_dir, val_dir, out, options["encoder"] or "default", options["weights"], options["seed"])
    best = rep["selection"]["best"]
    click.echo(f"chosen {best['kind']} ({best['param']:g}), threshold {best['threshold']:.3f}: balanced accuracy "
               f"{best['cv_balanced_accuracy']:.4f} in {rep['selection']['folds']} folds of the training identities")
    if "val" in rep:
        rep["val_without_its_identities_in_train"] = rep["val_identities_held_out"]["val"]
        click.echo(f"{rep['val_photos_in_train']} val photos are also in train (same bytes)")
    for name in ("val", "val_unseen", "val_without_its_identities_in_train"):
        if name in rep:
            m = rep[name]
            click.echo(f"{name}: balanced accuracy {m['balanced_accuracy']:.4f}, accuracy {m['accuracy']:.4f} "
                       f"({m['n']} photos); confusion (rows true {'/'.join(m['per_class'])}) {m['confusion']}")
    click.echo(f"use it: facesearch analyze photo.jpg --model {Path(out) / 'gender.npz'}")
    failed = report_errors(rep["train_errors"] + rep.get("val_errors", []))
    raise SystemExit(1 if failed else 0)


def _outside_the_data(option: str, path: str | None, data: str) -> None:
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
    """
    from ..evaluation import calibrate as C

    _outside_the_data("--plots", plots, data_dir)
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
    _outside_the_data("--plots", plots, data_dir)
    _outside_the_data("--report", report, data_dir)
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
