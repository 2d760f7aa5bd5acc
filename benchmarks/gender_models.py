"""Gender, measured side by side: (a) the small head on the shipped MobileFaceNet's embedding
(`facesearch train --task gender`, scored through `facesearch analyze` as a user runs it)
and (b) a timm EfficientNet-B0 trained on the same aligned faces, as the FACECOM seeds did.

    python benchmarks/gender_models.py ../shared/data/facecom_gender ../shared/data/facecom/val \
        --runs ~/facesearch-runs/gender-b0 --b0-minutes 30

No internet here but PyPI, so timm's ImageNet weights cannot be downloaded: B0 starts from
random weights, with class-balanced sampling, flips and shifts, AdamW and a cosine schedule
over a budget of CPU time (``--b0-minutes``, all threads). Its epoch is chosen on 15% of the *training*
identities; it is checkpointed under ``--runs`` (a rerun resumes, a finished one is reused).
Both are reported on val whole, on val's identities that train lacks, and on FACECOM val's
distorted photos by distortion (all, and those the quality gate calls usable). Writes
docs/results/gender.json (the docs render it) and docs/img/gender/*.png.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facesearch.evaluation.metrics import classification  # noqa: E402
from facesearch.evaluation.plots import confusion  # noqa: E402
from training.data import holdout_names, load_crops  # noqa: E402
from training.gender import class_photos, identity_of  # noqa: E402
from results import parse_markdown, write as save_results  # noqa: E402  (benchmarks/results.py: results as data)

KINDS = ("blurred", "foggy", "lowlight", "noisy", "rainy", "resized", "sunny")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cli(*args) -> tuple[str, float]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"facesearch {' '.join(map(str, args[:3]))} ... failed:\n{r.stderr[-3000:]}")
    return r.stdout, time.perf_counter() - t


def analyze(model: Path, photos: list[Path]) -> tuple[dict[str, tuple[int, bool]], float]:
    """path -> (predicted class index, face usable) of each photo's main face, via the CLI."""
    out, dt = cli("analyze", *photos, "--model", model, "--json")
    classes = json.loads(np.load(model)["card"].item())["classes"]
    pred = {}
    for line in out.splitlines():
        r = json.loads(line)
        if "faces" in r:
            face = r["faces"][r["main"]]
            pred[r["photo"]] = (classes.index(face["gender"]["label"]), face["quality"]["usable"])
    return pred, dt


# -- (b) EfficientNet-B0 -------------------------------------------------------------------------
def tensors(crops: np.ndarray):
    import torch

    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255)
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


def augment(x):
    import torch

    flip = torch.rand(len(x)) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dy, dx = np.random.randint(-8, 9, 2)
    return torch.roll(x, (int(dy), int(dx)), (2, 3))


def b0_scores(net, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    net.eval()
    with torch.inference_mode():
        return np.concatenate([torch.sigmoid(net(tensors(crops[i:i + batch]))[:, 0]).numpy()
                               for i in range(0, len(crops), batch)])


def train_b0(crops, labels, idents, runs: Path, minutes: float, seed: int = 0):
    """EfficientNet-B0 from random weights within ``minutes`` of training CPU time; the epoch with
    the best balanced accuracy on held-out training identities is kept (runs/best.pt)."""
    import timm
    import torch
    from sklearn.metrics import balanced_accuracy_score

    torch.manual_seed(seed)
    np.random.seed(seed)
    held = set(holdout_names(sorted(set(idents)), 0.15, seed))
    dev = np.array([i in held for i in idents])
    net = timm.create_model("efficientnet_b0", pretrained=False, num_classes=1, drop_rate=0.2)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.05)
    state = {"epoch": 0, "elapsed": 0.0, "best": -1.0, "history": [], "done": False}
    runs.mkdir(parents=True, exist_ok=True)
    if (runs / "last.pt").exists():
        ck = torch.load(runs / "last.pt", weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
    if not state["done"]:
        x, y = crops[~dev], labels[~dev]
        weights = torch.from_numpy(1.0 / np.bincount(y)[y])  # class-balanced sampling
        budget = minutes * 60
        while state["elapsed"] < budget:
            t0 = time.process_time()  # CPU seconds of all threads: the budget is CPU time
            net.train()
            order = torch.multinomial(weights, len(y), replacement=True).numpy()
            for i in range(0, len(order) - 1, 64):
                frac = min(1.0, state["elapsed"] / budget)
                for g in opt.param_groups:  # cosine over the time budget, 3% warm-up
                    g["lr"] = 2e-3 * min(1.0, frac / 0.03 + 0.01) * 0.5 * (1 + math.cos(math.pi * frac))
                idx = order[i:i + 64]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    net(augment(tensors(x[idx])))[:, 0], torch.from_numpy(y[idx]).float())
                opt.zero_grad()
                loss.backward()
                opt.step()
                state["elapsed"] += time.process_time() - t0
                t0 = time.process_time()
            state["epoch"] += 1
            ba = balanced_accuracy_score(labels[dev], b0_scores(net, crops[dev]) >= 0.5)
            state["history"].append({"epoch": state["epoch"], "minutes": round(state["elapsed"] / 60, 2),
                                     "holdout_balanced_accuracy": round(float(ba), 4)})
            print(f"b0 epoch {state['epoch']}: {state['elapsed'] / 60:.1f} min, loss {loss.item():.3f}, "
                  f"held-out balanced accuracy {ba:.4f}", flush=True)
            if ba > state["best"]:
                state["best"] = float(ba)
                torch.save(net.state_dict(), runs / "best.pt")
            state["done"] = state["elapsed"] >= budget
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "state": state}, runs / "last.pt")
    net.load_state_dict(torch.load(runs / "best.pt", weights_only=True))
    return net, state


# -- measurement ---------------------------------------------------------------------------------
def report(pred: dict, truth: dict, usable: dict, unseen: set, dist: dict, classes) -> dict:
    """Metrics on val (whole, unseen identities) and per distortion (all, usable only)."""
    def score(keys):
        keys = [k for k in keys if k in pred]
        return classification([truth[k] for k in keys], [pred[k] for k in keys], classes)

    val = [k for k in truth if k not in dist]
    out = {"val": score(val), "val_unseen": score([k for k in val if identity_of(k) in unseen])}
    for kind in KINDS:
        keys = [k for k, kd in dist.items() if kd == kind]
        out[kind] = score(keys)
        out[kind]["usable"] = score([k for k in keys if usable.get(k)])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gender_root", type=Path, help="facecom_gender (train/, val/ with a folder per class)")
    ap.add_argument("facecom_val", type=Path, help="FACECOM val (person folders with distortion/)")
    ap.add_argument("--runs", type=Path, default=Path.home() / "facesearch-runs" / "gender-b0")
    ap.add_argument("--b0-minutes", type=float, default=30.0)
    ap.add_argument("--part", choices=("head", "b0"), default=None,
                    help="measure only this model and save its figures in --runs (the two parts can run at "
                    "once, in two processes); without --part, any part not yet saved is measured, then both "
                    "are reported side by side")
    ap.add_argument("--b0-only", action="store_true", help="only train (or resume) B0, then stop")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    train, val = class_photos(args.gender_root / "train"), class_photos(args.gender_root / "val")
    unseen = set(val.identities) - set(train.identities)
    truth = {str(p): int(c) for p, c in zip(val.paths, val.labels)}
    by_stem = {p.stem: int(c) for p, c in zip(val.paths, val.labels)}
    dist_paths = sorted(p for p in args.facecom_val.glob("*/distortion/*.jpg") if p.stem.rpartition("_")[0] in by_stem)
    dist = {str(p): p.stem.rpartition("_")[2] for p in dist_paths}
    truth.update({str(p): by_stem[p.stem.rpartition("_")[0]] for p in dist_paths})
    parts = {"head": lambda: measure_head(args, truth), "b0": lambda: measure_b0(args, truth, val)}
    results = {}
    for name in ([args.part] if args.part else parts):
        saved = args.runs / f"results_{name}.json"
        if args.part or not saved.exists():
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(parts[name]()))
        results.update(json.loads(saved.read_text()))
    if not args.part:  # B0 saw the same aligned faces: the quality gate is the pipeline's, from `analyze`
        usable = results["head"]["usable"]
        write({name: {**report(r["pred"], truth, usable, unseen, dist, train.classes), "speed": r["speed"]}
               for name, r in results.items()}, train.classes, len(unseen))


def measure_b0(args, truth: dict, val) -> dict:
    """(b) B0 on the aligned crops (the same aligner and face as `analyze`). FACECOM's val
    shares identities with train (every female val photo is also in train, byte for byte):
    B0 trains without val's identities, so all of val is new to it."""
    tr = load_crops(args.gender_root / "train")
    idents = [identity_of(p) for p in tr.paths]
    keep = np.array([i not in set(val.identities) for i in idents])
    net, state = train_b0(tr.crops[keep], tr.labels[keep], [i for i, k in zip(idents, keep) if k],
                          args.runs, args.b0_minutes)
    if args.b0_only:
        sys.exit(0)
    pred, seconds = {}, 0.0
    for root in (args.gender_root / "val", args.facecom_val):
        cs = load_crops(root)
        keep = [i for i, p in enumerate(cs.paths) if p in truth]
        t0 = time.perf_counter()
        scores = b0_scores(net, cs.crops[keep])
        seconds += time.perf_counter() - t0
        pred.update({cs.paths[i]: int(s >= 0.5) for i, s in zip(keep, scores)})
    return {"b0": {"pred": pred, "speed": {"crops_per_s": len(pred) / seconds, "epochs": state["epoch"],
                                           "train_cpu_minutes": state["elapsed"] / 60, "history": state["history"]}}}


def measure_head(args, truth: dict) -> dict:
    """(a) The head, trained and used through the CLI: the shipped recipe (all of train) and
    the same recipe refitted without val's identities."""
    head_dir = args.runs / "head"
    _, train_s = cli("train", "--task", "gender", args.gender_root / "train", "--val", args.gender_root / "val",
                     "--out", head_dir)
    out, every = {}, [Path(k) for k in truth]
    # the refitted model only on val's clean photos: a pass over 3,376 photos is ~20 minutes on this machine
    for name, model, photos in (("head", "gender.npz", every),
                                ("head_without_val_ids", "gender_without_val_identities.npz",
                                 [p for p in every if p.parent.name != "distortion"])):
        pred, dt = analyze(head_dir / model, photos)
        out[name] = {"pred": {k: c for k, (c, _) in pred.items()}, "usable": {k: u for k, (_, u) in pred.items()},
                     "speed": {"analyze_photos_per_s_cli": len(photos) / dt, "train_s_cli": train_s}}
    return out


def ba(m: dict) -> str:
    return f"{m['balanced_accuracy']:.3f}" if m.get("n") else "-"


def write(results: dict, classes, n_unseen: int):
    img = REPO / "docs" / "img" / "gender"
    img.mkdir(parents=True, exist_ok=True)
    rows = ["| model | val BA | val acc | unseen BA (%d ids) | " % n_unseen + " | ".join(KINDS) + " |",
            "|---|---|---|---|" + "---|" * len(KINDS)]
    for name, title in (("head", "shipped: MobileFaceNet embedding + logistic head, all of train (`analyze`)"),
                        ("head_without_val_ids", "same recipe, trained without val's identities (`analyze`)"),
                        ("b0", "EfficientNet-B0 from scratch, aligned face, without val's identities")):
        r = results[name]
        rows.append(f"| {title} | {r['val']['balanced_accuracy']:.4f} | {r['val']['accuracy']:.4f} | "
                    f"{r['val_unseen']['balanced_accuracy']:.4f} | "
                    + " | ".join(f"{ba(r[k])} ({ba(r[k]['usable'])})" for k in KINDS) + " |")
        confusion({"val": r["val"]["confusion"], "val, unseen identities": r["val_unseen"]["confusion"]},
                  classes, img / f"confusion_{name}.png")
    per_class = ["| model | subset | " + " | ".join(f"{c} P / R / F1" for c in classes) + " | confusion (rows true) |",
                 "|---|---|" + "---|" * len(classes) + "---|"]
    for name in ("head", "head_without_val_ids", "b0"):
        for subset in ("val", "val_unseen"):
            m = results[name][subset]
            per_class.append(f"| {name} | {subset} | " + " | ".join(
                f"{m['per_class'][c]['precision']:.3f} / {m['per_class'][c]['recall']:.3f} / {m['per_class'][c]['f1']:.3f}"
                for c in classes) + f" | {m['confusion']} |")
    text = "\n".join(rows + [""] + per_class) + "\n"
    print(text)
    print(json.dumps({k: v["speed"] for k, v in results.items()}, indent=1))
    # the figures as data for the docs (docs/results/gender.json, rendered on the Gender page)
    save_results("gender", [{"text": "BA = balanced accuracy; distortion columns: all photos (those the quality gate "
                                     "calls usable)"}, *parse_markdown(text), {"data": results}],
                 "python " + " ".join(shlex.quote(a) for a in sys.argv),
                 "Gender: embedding head vs EfficientNet-B0 (benchmarks/gender_models.py)")

if __name__ == "__main__":
    main()
