"""The calibration that ships with a model: its impostor cohort and its thresholds, chosen on
training identities only (never val), written beside the weights.

    python -m training.ship_calibration --model default --train ../shared/data/facecom/train \\
        [--gender ../shared/data/facecom_gender/train]

Embeds the training folder with the encoder (cached by file hash in ``--cache-db``, so a
rerun embeds nothing), splits its identities in two (``--seed``): on the *fit* half it fits
the cohort (k-means centroids, each pooling at least 10 people: ``gallery/cohort.py``) and
chooses, in cohort units, the verification threshold (``--target-far`` per comparison) and
the identification rules (``--target-fpir``, one per gallery size of :data:`GALLERY_SIZES`,
as ``calibrate`` does); on the *check* half it measures them. The entry is written into
``--out`` (default ``facesearch/weights/calibration.json``) under the encoder's checksum,
beside the entries of other encoders.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from facesearch.config import SHIPPED_CALIBRATION
from facesearch.evaluation import metrics
from facesearch.evaluation.labelled import Labelled, embed_folder, pair_scores
from facesearch.evaluation.thresholds import genuine_accept_rate, identification_threshold, stranger_rate, \
    verification_threshold
from facesearch.files import atomic_write
from facesearch.gallery import Gallery
from facesearch.gallery.cohort import fit_cohort

from .data import DEFAULT_CACHE, holdout_names

GALLERY_SIZES = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 10_000, 100_000)


def subset(data: Labelled, names) -> Labelled:
    """The photos of identities ``names``, relabelled 0.. in name order."""
    keep = sorted(names)
    lookup = {n: i for i, n in enumerate(keep)}
    new = np.array([lookup.get(n, -1) for n in data.names])[data.labels]
    idx = np.flatnonzero(new >= 0)
    pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
    return Labelled(pick(data.paths), new[idx], keep, pick(data.kinds), pick(data.source), data.emb[idx],
                    None if data.usable is None else data.usable[idx], data.cohort)


def identity_genders(root: Path | None, names: list[str]) -> dict[str, str]:
    """identity -> "male"/"female" from a FACECOM gender folder (``<sex>/<identity>_NNNN.jpg``
    or ``<sex>/<identity>.jpg``); identities it does not hold are left out."""
    if root is None:
        return {}
    known = set(names)
    out = {}
    for sex in ("male", "female"):
        for p in (root / sex).glob("*.jpg"):
            name = p.stem if p.stem in known else p.stem.rsplit("_", 1)[0]
            if name in known:
                out[name] = sex
    return out


def far_by_group(data: Labelled, threshold: float, genders: dict[str, str]) -> dict:
    """Impostor comparisons accepted at ``threshold`` (pair scores, in the data's units):
    all, woman-woman, man-man, mixed; and genuine ones accepted (TAR)."""
    from facesearch.evaluation.labelled import query_gallery

    s, ql, gl = query_gallery(data, both_sides=True)
    sex = np.array([genders.get(n, "?") for n in data.names])
    sq, sg = sex[ql][:, None], sex[gl][None, :]
    impostor = (ql[:, None] != gl[None, :]) & np.isfinite(s)
    groups = {"all": impostor, "woman-woman": impostor & (sq == "female") & (sg == "female"),
              "man-man": impostor & (sq == "male") & (sg == "male"), "mixed": impostor & (sq != sg)}
    out = {k: {"far": float(np.mean(s[m] >= threshold)) if m.any() else None, "pairs": int(m.sum())}
           for k, m in groups.items()}
    genuine = s[(ql[:, None] == gl[None, :]) & np.isfinite(s)]
    out["tar"] = float(np.mean(genuine >= threshold))
    return out


def ship(model: str, train: Path, out: Path, cache_db: Path, gender: Path | None = None, target_far: float = 0.01,
         target_fpir: float = 0.01, clusters: int = 64, top_n: int = 10, seed: int = 0) -> dict:
    cache_db.parent.mkdir(parents=True, exist_ok=True)
    gallery = Gallery.open(str(cache_db), model=model, create=True)
    data, errors = embed_folder(gallery, train, progress=None)
    check_names = set(holdout_names(data.names, 0.5, seed))
    fit = subset(data, [n for n in data.names if n not in check_names])
    check = subset(data, check_names)
    cohort = fit_cohort(fit.emb, fit.labels, clusters, top_n, seed)
    fit.cohort = check.cohort = cohort
    tv, verify = verification_threshold(fit, "far", target_far)
    rules, measured = [], []
    for size in GALLERY_SIZES:
        rule, ident = identification_threshold(fit, target_fpir, size)
        rules.append({"gallery_size": size, "floor": rule.score, "margin": rule.margin, "fpir_fit": ident["fpir"],
                      "tpir_fit": ident["tpir"], "method": ident["method"]})
        if size <= len(check.names) - 1:
            measured.append({"gallery_size": size, "fpir": stranger_rate(check, rule, size),
                             "tpir": genuine_accept_rate(check, rule, size)})
    genders = identity_genders(gender, data.names)
    card = gallery.encoder.card
    entry = {
        "model": card.model, "arch": card.arch, "embedding_dim": card.embedding_dim, "flip": card.flip,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": f"{train.name}: {len(fit.names)} of its {len(data.names)} identities (fit half, seed {seed}); "
                f"{len(check.names)} others measured (check half); never val",
        "files_failed": len(errors),
        "cohort": {**cohort.as_dict(), "fitted_on": f"{len(fit.paths)} photos of {len(fit.names)} identities",
                   "clusters_asked": clusters},
        "verification": {"threshold": tv, "target_far": target_far, "units": "S-norm against the cohort",
                         "fit": {k: verify[k] for k in ("far", "tar", "genuine_pairs", "impostor_pairs")},
                         "check": far_by_group(check, tv, genders)},
        "identification": {"target_fpir": target_fpir, "units": "Z-norm of the query against the cohort",
                           "rules": rules, "check": measured},
    }
    book = json.loads(out.read_text()) if out.is_file() else {}
    book[card.checksum] = entry
    with atomic_write(out) as f:
        f.write((json.dumps(book, indent=1) + "\n").encode())
    return entry


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="encoder spec, as --model (default: the shipped model)")
    ap.add_argument("--train", type=Path, required=True, help="FACECOM train (or any labelled folder)")
    ap.add_argument("--gender", type=Path, default=None, help="FACECOM gender folder of the same split: "
                    "also report false accepts woman-woman / man-man on the check half")
    ap.add_argument("--out", type=Path, default=SHIPPED_CALIBRATION)
    ap.add_argument("--cache-db", type=Path, default=DEFAULT_CACHE / "ship_calibration.db")
    ap.add_argument("--target-far", type=float, default=0.01)
    ap.add_argument("--target-fpir", type=float, default=0.01)
    ap.add_argument("--clusters", type=int, default=64, help="k-means clusters to start from")
    ap.add_argument("--top-n", type=int, default=10, help="cohort scores per face its statistics use")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    entry = ship(a.model, a.train, a.out, a.cache_db, a.gender, a.target_far, a.target_fpir, a.clusters, a.top_n, a.seed)
    print(json.dumps({k: entry[k] for k in ("data", "verification", "identification")}, indent=1))
    print(f"cohort: {len(entry['cohort']['centroids'])} centroids, each pooling >= "
          f"{min(entry['cohort']['identities'])} identities; written to {a.out}")


if __name__ == "__main__":
    main()
