"""``facesearch train``: plugged into facesearch's CLI through the ``facesearch.commands``
entry point (pyproject.toml), so facesearch never imports this package. Light at import
(``facesearch --help`` lists it); PyTorch loads when the command runs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from facesearch.cli.model_commands import outside_the_data
from facesearch.cli.options import FiniteFloat, fail, finite_float, output_folder, report_errors
from facesearch.config import MARGIN_KINDS, OPTIMIZERS, TRAIN_TASKS
from facesearch.runtime import require_torch

from .config import GENDER_OUT, TrainConfig as Recipe  # the options' defaults (torch-free)


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
              f"history.json), never used for a choice.  [default: {Recipe.holdout:g}: choose on --val]")
@click.option("--encoder", default=None, help=f"Encoder family to train.  [default: {Recipe.encoder}; gender: default]")
@click.option("--weights", default=None, help="Starting weights: a state dict or a facesearch checkpoint.")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help=f"Folder for best.pt, last.pt and history.json.  [default: {Recipe.out}; gender: {GENDER_OUT}]")
@click.option("--epochs", default=None, type=click.IntRange(min=1), help=f"Epochs in all  [default: {Recipe.epochs}].")
@click.option("--batch-size", default=Recipe.batch_size, show_default=True, type=click.IntRange(min=2),
              help="Photos per step (under torchrun: in all processes together).")
@click.option("--lr", default=Recipe.lr, show_default=True, type=finite_float)
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=Recipe.optimizer, show_default=True)
@click.option("--margin", default=Recipe.margin, show_default=True, type=finite_float, help="Angular margin m.")
@click.option("--scale", default=Recipe.scale, show_default=True, type=finite_float, help="Logit scale s.")
@click.option("--margin-kind", type=click.Choice(MARGIN_KINDS), default=Recipe.margin_kind,
              show_default=True)
@click.option("--freeze", default=None, help="Last frozen stage (e.g. features.5 for MobileFaceNet); the frozen "
              "trunk then runs once and its features are cached.")
@click.option("--augment", is_flag=True, help="On-the-fly synthetic distortions (for clean-only data; "
              "not with --freeze on MobileFaceNet).")
@click.option("--pair-weight", type=finite_float, default=None,
              help="Stage 2: weight of a contrastive loss pulling distorted crops to their clean source "
              f"(0 = off).  [default: {Recipe.pair_weight:g}]")
@click.option("--patience", default=Recipe.patience, show_default=True, type=int,
              help="Early stopping patience (epochs).")
@click.option("--seed", default=Recipe.seed, show_default=True, type=int)
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
    require_torch("facesearch train")
    from . import distributed, log_to_stderr

    if task == "gender":
        return _train_gender(train_dir, val_dir, options)
    from .trainer import Trainer

    log_to_stderr()
    if not (train_dir or resume):
        fail("give TRAIN_DIR, or --resume runs/.../last.pt")
    if not resume:
        output_folder(options["out"] or Recipe.out)  # an --out that cannot be written fails now, not after an epoch
    finished = False
    try:
        if resume:  # only --epochs may change on resume: the rest is the checkpoint's recipe
            trainer = Trainer.resume(resume, **({"epochs": options["epochs"]} if options["epochs"] else {}))
        else:
            options = {k: v for k, v in options.items() if v is not None}
            trainer = Trainer(Recipe(train_dir=train_dir, val_dir=val_dir, **options))
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
    from . import log_to_stderr
    from .gender import train_gender

    if not train_dir:
        fail("give TRAIN_DIR (one folder per class)")
    log_to_stderr()
    out = options["out"] or GENDER_OUT
    for data in filter(None, (train_dir, val_dir)):
        outside_the_data("--out", out, data)  # confusion.png would be a photo of a class there
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
