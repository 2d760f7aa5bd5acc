"""``facesearch classifier fit|show``: the PCA + SVC identity classifier of a gallery."""
from __future__ import annotations

import json

import click

from ..config import CLASSIFIER_C, CLASSIFIER_COMPONENTS, CLASSIFIER_KERNEL, SVC_KERNELS
from .options import FiniteFloat, db_option, json_option, open_gallery, writing


@click.group()
def classifier():
    """An identity classifier (PCA + SVC) on the gallery's embeddings, for `query --decider svc`.

    \b
      facesearch classifier fit          fit it on every enrolled photo; saved beside the DB
      facesearch classifier show         what it was fitted on, and whether it is stale

    Any change to the gallery afterwards (photos added, removed, replaced, renamed) makes it
    stale: `query --decider svc` then refuses it until it is fitted again.
    """


@classifier.command()
@db_option
@click.option("--components", type=click.IntRange(min=1), default=CLASSIFIER_COMPONENTS, show_default=True,
              help="PCA dimensions kept (whitened) before the SVC.")
@click.option("--c", "c", type=FiniteFloat(min=0, min_open=True), default=CLASSIFIER_C, show_default=True,
              help="SVC regularisation (larger: fits the enrolled photos more closely).")
@click.option("--kernel", type=click.Choice(SVC_KERNELS), default=CLASSIFIER_KERNEL, show_default=True,
              help="SVC kernel.")
@json_option
def fit(db, components, c, kernel, as_json):
    """Fit PCA + SVC (probability outputs) on every stored embedding, label = identity."""
    from ..gallery.classifier import classifier_path, fit_gallery

    gallery = open_gallery(db, None, None, None)
    path = classifier_path(gallery)
    with writing(path):
        clf = fit_gallery(gallery, components, c, kernel)
    if as_json:
        click.echo(json.dumps({"path": str(path), **clf.header}))
    else:
        click.echo(f"fitted on {described(clf.header)}; saved to {path}")


@classifier.command()
@db_option
@json_option
def show(db, as_json):
    """What the classifier was fitted on and whether the gallery changed since (exit 1 if stale)."""
    from ..gallery.classifier import classifier_path, read, staleness

    gallery = open_gallery(db, None, None, None)
    path = classifier_path(gallery)
    clf = read(path)
    why = staleness(gallery, clf)
    if as_json:
        click.echo(json.dumps({"path": str(path), **clf.header, "stale": why is not None, "reason": why}))
    else:
        click.echo(f"{path}: fitted {clf.header['fitted_at']} on {described(clf.header)}; "
                   + (f"STALE: {why}" if why else "current"))
    raise SystemExit(1 if why else 0)


def described(h: dict) -> str:
    return (f"{h['photos']} photos of {h['identities']} identities "
            f"(PCA {h['components']}, {h.get('kernel', 'rbf')} SVC, C {h['C']:g})")
