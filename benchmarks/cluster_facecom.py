"""`facesearch cluster` on FACECOM: the threshold chosen on TRAIN identities, figures on VAL.

    python benchmarks/results.py record cluster_facecom -- python benchmarks/cluster_facecom.py /work/shared/data/facecom

(prints Markdown tables and the raw figures as JSON; ``--out FILE`` also writes them raw)

A library is built like a user's: the clean, blurred and low-light photos of a set of
identities, copied into ONE folder under /tmp with shuffled file names (no person
folders). It is clustered through the Python API (``Library.cluster``, what the CLI runs)
with the shipped model and MTCNN.

1. TRAIN: ``--train-groups`` libraries of 40 train identities each are embedded once;
   the clustering alone is swept over thresholds on their stored embeddings. The chosen
   threshold is the lowest (most recall) whose pairwise precision is at least
   ``--min-precision`` in every train library.
2. VAL: 40 val identities (seeded draw), clustered with that threshold: pairwise and
   BCubed precision/recall, time per 1,000 faces (embedding + clustering, and clustering
   alone); then incrementally: half the photos, then all (the second run embeds only the
   new half; figures after it).

Scoring: each photo's identity labels its largest detected face; other detected faces
(background people in LFW photos) are left out of the scores and counted. Unclustered
faces are singletons.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KINDS = ("blurred", "lowlight")


def build_folder(split: Path, identities: list[str], dest: Path, seed: int) -> dict[str, str]:
    """Copy clean + blurred + low-light photos of ``identities`` into ``dest`` with shuffled
    names; returns file name -> identity."""
    files = []
    for who in identities:
        person = split / who
        files += [(p, who) for p in sorted(person.glob("*.jpg"))]
        files += [(p, who) for kind in KINDS for p in sorted((person / "distortion").glob(f"*_{kind}.jpg"))]
    order = list(range(len(files)))
    random.Random(seed).shuffle(order)
    dest.mkdir(parents=True)
    truth = {}
    for new, i in enumerate(order):
        src, who = files[i]
        name = f"img_{new:05d}.jpg"
        shutil.copyfile(src, dest / name)
        truth[name] = who
    return truth


def labelled(rows: list[dict], truth: dict[str, str]) -> tuple[list[str], list, int]:
    """(identity, cluster) of each photo's largest face; and how many other faces were left out."""
    by_photo: dict[str, list[dict]] = {}
    for r in rows:
        by_photo.setdefault(Path(r["photo"]).name, []).append(r)
    people, clusters, extra = [], [], 0
    for name, faces in by_photo.items():
        face = max(faces, key=lambda r: 0 if r["box"] is None else (r["box"][2] - r["box"][0]) * (r["box"][3] - r["box"][1]))
        extra += len(faces) - 1
        people.append(truth[name])
        clusters.append(face["cluster"])
    return people, clusters, extra


def scores(people: list[str], clusters: list) -> dict:
    """Pairwise and BCubed precision/recall (unclustered faces are singletons)."""
    clusters = [c if c is not None else f"single{i}" for i, c in enumerate(clusters)]
    tp = fp = fn = 0
    for (p1, c1), (p2, c2) in combinations(zip(people, clusters), 2):
        same_c, same_p = c1 == c2, p1 == p2
        tp += same_c and same_p
        fp += same_c and not same_p
        fn += same_p and not same_c
    n = len(people)
    bp = br = 0.0
    for i in range(n):
        in_c = [j for j in range(n) if clusters[j] == clusters[i]]
        in_p = [j for j in range(n) if people[j] == people[i]]
        both = sum(people[j] == people[i] for j in in_c)
        bp += both / len(in_c)
        br += both / len(in_p)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    bcp, bcr = bp / n, br / n
    return {"pairwise_precision": round(p, 4), "pairwise_recall": round(r, 4),
            "pairwise_f1": round(2 * p * r / max(p + r, 1e-12), 4),
            "bcubed_precision": round(bcp, 4), "bcubed_recall": round(bcr, 4),
            "bcubed_f1": round(2 * bcp * bcr / max(bcp + bcr, 1e-12), 4), "faces_scored": n,
            "clusters": len({c for c in clusters if not str(c).startswith("single")}),
            "unclustered": sum(str(c).startswith("single") for c in clusters)}


def library_at(db: Path):
    from facesearch.gallery import Gallery
    from facesearch.gallery.library import Library

    return Library(Gallery.open(db, create=True))


def run_library(folder: Path, db: Path, threshold: float) -> tuple[list[dict], dict]:
    lib = library_at(db)
    report = lib.cluster(sorted(folder.iterdir()), threshold)
    return [f.as_dict() for f in report.faces], report.summary()


def sweep(db: Path, truth: dict[str, str], thresholds: np.ndarray) -> list[dict]:
    """Cluster the stored faces of one library at each threshold (no embedding)."""
    from facesearch.gallery.clustering import cluster_faces

    lib = library_at(db)
    faces = lib.store.faces(lib.gallery.meta.card.embedding_dim)
    rows_base = [{"photo": p, "box": b} for p, b in zip(faces.paths, faces.boxes)]
    out = []
    for t in thresholds:
        start = time.perf_counter()
        labels = cluster_faces(faces.vectors, faces.photo_ids, float(t))
        seconds = time.perf_counter() - start
        rows = [{**r, "cluster": None if lab == -1 else int(lab)} for r, lab in zip(rows_base, labels)]
        people, clusters, _ = labelled(rows, truth)
        out.append({"threshold": round(float(t), 3), **scores(people, clusters), "cluster_seconds": round(seconds, 3)})
    return out


def render(result: dict) -> str:
    """The result as Markdown: the val figures, incremental run, train sweep, raw JSON."""
    val, inc, chosen = result["val"], result["val_incremental"], result["chosen_threshold"]
    keys = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall", "bcubed_f1")
    lines = [f"# Clustering {result['protocol']['people']} FACECOM val people in one folder "
             f"(threshold {chosen} chosen on train)", "",
             "| measure | val, one run | val, half then all (incremental) | goal |", "|---|---|---|---|"]
    goals = {"pairwise_precision": ">= 0.95", "pairwise_recall": ">= 0.80"}
    lines += [f"| {k.replace('_', ' ')} | {val[k]} | {inc[k]} | {goals.get(k, '')} |" for k in keys]
    lines += [f"| clusters / unclustered | {val['clusters']} / {val['unclustered']} | "
              f"{inc['clusters']} / {inc['unclustered']} | |",
              f"| photos / faces (other faces left out of the scores) | {val['photos']} / {val['faces']} "
              f"({val['other_faces_left_out']}) | second run embedded {inc['embedded_by_second_run']} | |",
              f"| seconds per 1,000 faces: detect + embed + cluster | {val['seconds_per_1000_faces']} | | |",
              f"| seconds per 1,000 faces: clustering alone | {val['cluster_only_seconds_per_1000_faces']} | | |",
              "", "## Threshold sweep on the train libraries (pairwise precision / recall)", "",
              "| threshold | " + " | ".join(f"train {i + 1}" for i in range(len(result["train_sweep"]))) + " |",
              "|---" * (1 + len(result["train_sweep"])) + "|"]
    for i, row in enumerate(result["train_sweep"][0]):
        cells = [f"{g[i]['pairwise_precision']} / {g[i]['pairwise_recall']}" for g in result["train_sweep"]]
        lines.append(f"| {row['threshold']} | " + " | ".join(cells) + " |")
    lines += ["", "```", json.dumps({k: v for k, v in result.items() if k != "train_sweep"}), "```"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("facecom", type=Path)
    ap.add_argument("--people", type=int, default=40)
    ap.add_argument("--train-groups", type=int, default=4)
    ap.add_argument("--min-precision", type=float, default=0.97)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write the raw figures (JSON) here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cluster-facecom-"))
    rng = random.Random(args.seed)
    train_ids = sorted(p.name for p in (args.facecom / "train").iterdir() if p.is_dir())
    rng.shuffle(train_ids)
    thresholds = np.round(np.arange(0.20, 0.71, 0.025), 3)
    train = []
    for g in range(args.train_groups):
        ids = train_ids[g * args.people:(g + 1) * args.people]
        folder, db = work / f"train{g}", work / f"train{g}.db"
        truth = build_folder(args.facecom / "train", ids, folder, args.seed + g)
        t = time.perf_counter()
        run_library(folder, db, 0.5)  # embeds and stores the faces once
        print(f"train library {g}: {len(truth)} photos embedded in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        train.append(sweep(db, truth, thresholds))
    ok = [i for i in range(len(thresholds)) if all(g[i]["pairwise_precision"] >= args.min_precision for g in train)]
    if not ok:
        sys.exit("no threshold reaches the precision asked for on every train library")
    chosen = float(thresholds[min(ok)])
    print(f"chosen on train: {chosen}", file=sys.stderr)

    val_ids = sorted(p.name for p in (args.facecom / "val").iterdir() if p.is_dir())
    val_ids = random.Random(args.seed + 100).sample(val_ids, args.people)
    folder = work / "val"
    truth = build_folder(args.facecom / "val", val_ids, folder, args.seed + 100)
    t = time.perf_counter()
    rows, summary = run_library(folder, work / "val.db", chosen)
    total = time.perf_counter() - t
    people, clusters, extra = labelled(rows, truth)
    val = {**scores(people, clusters), "faces": len(rows), "photos": len(truth), "other_faces_left_out": extra,
           "seconds_total": round(total, 2), "seconds_per_1000_faces": round(1000 * total / max(len(rows), 1), 1)}
    val_sweep = sweep(work / "val.db", truth, np.array([chosen]))[0]
    val["cluster_only_seconds_per_1000_faces"] = round(1000 * val_sweep["cluster_seconds"] / max(len(rows), 1), 3)

    # incremental: half the photos, then all of them (the second run embeds only the new half)
    names = sorted(truth)
    half = work / "val_incremental"
    half.mkdir()
    for name in names[: len(names) // 2]:
        shutil.copyfile(folder / name, half / name)
    run_library(half, work / "incremental.db", chosen)
    for name in names[len(names) // 2:]:
        shutil.copyfile(folder / name, half / name)
    rows2, summary2 = run_library(half, work / "incremental.db", chosen)
    inc = {**scores(*labelled(rows2, truth)[:2]), "embedded_by_second_run": summary2["embedded"],
           "photos": summary2["photos"]}

    result = {"command": "python benchmarks/cluster_facecom.py " + " ".join(sys.argv[1:]),
              "protocol": {"people": args.people, "photos": "clean + blurred + lowlight, one folder, shuffled names",
                           "train_groups": args.train_groups, "min_precision": args.min_precision,
                           "seed": args.seed, "model": "shipped (default)", "detector": "mtcnn"},
              "chosen_threshold": chosen, "train_sweep": train, "val": val, "val_incremental": inc}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
