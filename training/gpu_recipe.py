"""The GPU recipe: both identity networks' whole backbones fine-tuned on FACECOM train with the
faithful distortions, the fusion fitted, in one run of a few minutes on one GPU.

    # here (CPU): align FACECOM train once and pack it small enough to travel (JPEG q75, FACECOM's own quality: ~42 MiB)
    python -m training.gpu_recipe pack ../shared/data/facecom/train .gpu
    # on the GPU machine (device tool), results under $OUT:
    python -m training.gpu_recipe run .gpu $OUT --minutes 5
    # its fusion.npz has the layout of facesearch/weights/fusion_mfn_sface.npz (`--model fused`)

Identities are split three ways by a fixed seed (:func:`split_names`): ``fit`` (70%) trains
the networks and fits the fusion's whitening; ``select`` (15%) chooses every round, recipe
and fusion setting; ``check`` (15%) is scored at the end and never chooses anything, so its
figure says what to expect on unseen people. FACECOM val is not used at all.

Every recipe in :data:`RECIPES` trains on the same augmented batches (augmentation, on the
CPU workers, is the bottleneck; the GPU has room for several small networks at once), each
with its own ArcFace head (started at its class prototypes), optimiser and a time-based
warm-up + cosine schedule. Each recipe's best round (figures every ``--eval-every`` seconds) on ``select`` (protocol B top-1) is kept.
What comes back: the best state of each network (fp16), ``report.json`` (every round's
figures, the choice, the fusion and the check figures) and ``fusion.npz``.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR

from facesearch.encoders.base import l2_normalise
from facesearch.encoders.fused import join
from facesearch.encoders.mobilefacenet import MobileFaceNet
from facesearch.evaluation.protocols import protocols

from .augment import augment
from .data import CropSet
from .losses import MarginHead
from .sface import from_onnx
from .wccn import fit_wccn

SPLIT_SEED = 2026
MFN_MEAN, MFN_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# name -> (network, optimiser, learning rate): every recipe sees the same batches.
RECIPES = {
    "mfn_sgd": ("mobilefacenet", "sgd", 0.02),
    "mfn_adamw": ("mobilefacenet", "adamw", 4e-4),
    "sface_sgd": ("sface", "sgd", 0.02),
    "sface_adamw": ("sface", "adamw", 2e-4),
}


def split_names(names: list[str], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """fit / select / check identities (70 / 15 / 15%), the same for the same names and seed."""
    order = np.random.default_rng(seed).permutation(sorted(names))
    a, b = int(0.7 * len(order)), int(0.85 * len(order))
    return {"fit": sorted(order[:a]), "select": sorted(order[a:b]), "check": sorted(order[b:])}


# ---------------------------------------------------------------------------------- packing
def pack(train_dir: str, out: str) -> None:
    """Align every photo of ``train_dir`` (training.data's cache) and pack it into ``out``."""
    from .data import load_crops

    cs = load_crops(train_dir)
    cs.paths = [str(Path(p).relative_to(train_dir)) for p in cs.paths]
    size = pack_crops(cs, out)
    print(f"packed {len(cs.labels)} crops of {len(cs.names)} identities: {size / 2**20:.1f} MiB")


def pack_crops(cs: CropSet, out: str | Path, quality: int = 75) -> int:
    """Write ``out/crops.npz``: JPEG bytes of each crop, labels, kinds, sources; returns its size."""
    blobs = []
    for crop in cs.crops:
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, "JPEG", quality=quality, subsampling=2)  # 4:2:0, as FACECOM saved them
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    Path(out).mkdir(parents=True, exist_ok=True)
    np.savez(Path(out) / "crops.npz", jpeg=np.concatenate(blobs), offsets=np.cumsum([0] + [len(b) for b in blobs]),
             labels=cs.labels, names=np.array(cs.names), kinds=np.array(cs.kinds), source=np.array(cs.source),
             paths=np.array(cs.paths))
    return (Path(out) / "crops.npz").stat().st_size


def unpack(folder: str) -> CropSet:
    z = np.load(Path(folder) / "crops.npz")
    jpeg, off = z["jpeg"], z["offsets"]
    crops = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB"))
                      for i in range(len(off) - 1)])
    return CropSet(crops, z["labels"].astype(np.int64), list(z["names"]), list(z["paths"]), list(z["kinds"]),
                   list(z["source"]), np.ones(len(crops), bool))


# ---------------------------------------------------------------------------------- networks
class Pixels(nn.Module):
    """uint8-valued float RGB (N x 3 x H x W, 0..255) -> the network's own input scaling."""

    def __init__(self, net: nn.Module, kind: str):
        super().__init__()
        self.net, self.kind = net, kind
        if kind == "mobilefacenet":
            self.register_buffer("mean", torch.tensor(MFN_MEAN).view(1, 3, 1, 1) * 255)
            self.register_buffer("std", torch.tensor(MFN_STD).view(1, 3, 1, 1) * 255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "mobilefacenet":
            x = (x - self.mean) / self.std
        return self.net(x)


def build(kind: str, weights: dict[str, str]) -> Pixels:
    if kind == "sface":
        return Pixels(from_onnx(weights["sface"]), kind)
    net = MobileFaceNet()
    net.load_state_dict(torch.load(weights["mobilefacenet"], map_location="cpu"))
    return Pixels(net, kind)


@torch.no_grad()
def embed(model: nn.Module, crops: np.ndarray, device, batch: int = 1024) -> np.ndarray:
    """Flip-averaged, L2-normalised embeddings (as facesearch's encoders make them)."""
    model.eval()
    out = []
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(crops[i:i + batch]).to(device).permute(0, 3, 1, 2).float()
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            e = model(x).float() + model(x.flip(3)).float()
        out.append(F.normalize(e, dim=1).cpu().numpy())
    return np.concatenate(out)


def score(emb: np.ndarray, cs: CropSet) -> dict:
    r = protocols(emb, cs)
    return {p: round(float(r[p]["top1"]), 4) for p in ("A", "B") if p in r} | \
        {f"B_{k}": round(float(v), 4) for k, v in r.get("B", {}).get("by_distortion", {}).items()}


# ---------------------------------------------------------------------------------- data
class Augmented(torch.utils.data.Dataset):
    """Clean crops get a faithful FACECOM distortion 70% of the time; FACECOM's own
    distorted crops are used as they are (plus the flip and colour jitter every crop gets)."""

    def __init__(self, cs: CropSet, seed: int):
        self.cs, self.seed, self.clean = cs, seed, np.array(cs.kinds) == "clean"

    def __len__(self) -> int:
        return len(self.cs.labels)

    def __getitem__(self, i: int):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, i, info.id if info else 0, int(time.time() * 1e6) % 2**31])
        img = augment(self.cs.crops[i], rng, p_distort=0.7 if self.clean[i] else 0.0, frame="crop")
        return torch.from_numpy(np.array(img)), int(self.cs.labels[i])


class Recipe:
    """One network, its margin head, optimiser and time-based warm-up + cosine schedule."""

    def __init__(self, name: str, weights: dict, fit: CropSet, device, seconds: float):
        kind, opt, lr = RECIPES[name]
        self.name, self.kind, self.device = name, kind, device
        self.model = build(kind, weights).to(device).to(memory_format=torch.channels_last)
        self.head = MarginHead(128, len(fit.names), s=32.0, m=0.3).to(device)
        protos = torch.from_numpy(embed(self.model, fit.crops, device))
        self.head.init_from_prototypes(torch.zeros(len(fit.names), 128).index_add_(
            0, torch.from_numpy(fit.labels), protos).to(device))
        params = list(self.model.parameters()) + list(self.head.parameters())
        self.opt = (torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
                    if opt == "sgd" else torch.optim.AdamW(params, lr=lr, weight_decay=0.05))
        self.start, self.seconds = time.monotonic(), seconds
        self.sched = LambdaLR(self.opt, self.lr_factor)
        self.best, self.history = None, []

    def lr_factor(self, _step: int) -> float:
        t = min(1.0, (time.monotonic() - self.start) / self.seconds)
        return t / 0.05 if t < 0.05 else 0.5 * (1 + math.cos(math.pi * (t - 0.05) / 0.95))

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.model.train()
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.device.type == "cuda"):
            emb = self.model(x)
        loss = F.cross_entropy(self.head(emb.float(), y), y, label_smoothing=0.1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.opt.step()
        self.sched.step()
        return loss.detach()  # no float() here: that would wait for the GPU at every step

    def consider(self, round_: int, loss: float, select: CropSet) -> dict:
        rec = {"round": round_, "loss": round(loss, 4), **score(embed(self.model, select.crops, self.device), select)}
        self.history.append(rec)
        if self.best is None or rec["B"] > self.best[0]["B"]:
            self.best = (rec, {k: v.detach().clone() for k, v in self.model.net.state_dict().items()})
        return rec


# ---------------------------------------------------------------------------------- fusion
def fuse(members: list[np.ndarray], projections: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Each member's embedding projected, re-normalised and scaled by sqrt(weight), joined and
    normalised: the cosine of two fused embeddings is the weighted mean of the members' cosines."""
    return l2_normalise(join(members, projections, weights))


def choose_fusion(fit_emb: list[np.ndarray], fit_labels: np.ndarray, sel_emb: list[np.ndarray],
                  select: CropSet, alphas=(0.0, 0.125, 0.25), sface_weights=(0.3, 0.4, 0.5, 0.6, 0.7)) -> dict:
    """Per-member WCCN alpha (fitted on ``fit``) and the SFace weight, by protocol B on ``select``."""
    best, trials = None, []
    for a_m in alphas:
        for a_s in alphas:
            proj = [fit_wccn(fit_emb[0], fit_labels, a_m), fit_wccn(fit_emb[1], fit_labels, a_s)]
            for w in sface_weights:
                r = score(fuse(sel_emb, proj, [1 - w, w]), select)
                trials.append({"alpha_mfn": a_m, "alpha_sface": a_s, "w_sface": w, **r})
                if best is None or (r["B"], r["A"]) > (best[0]["B"], best[0]["A"]):
                    best = (trials[-1], proj)
    return {"choice": best[0], "projections": best[1], "trials": trials}


# ---------------------------------------------------------------------------------- run
def run(pack_dir: str, out: str, minutes: float, weights: dict, recipes: list[str], batch: int,
        workers: int, max_steps: int | None = None, eval_every: float = 15.0) -> None:
    t0 = time.monotonic()
    out_p = Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    cs = unpack(pack_dir)
    split = split_names(cs.names)
    fit, select, check = (cs.identities(split[k]) for k in ("fit", "select", "check"))
    report = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "split_seed": SPLIT_SEED, "identities": {k: len(v) for k, v in split.items()},
              "photos": {"fit": len(fit.labels), "select": len(select.labels), "check": len(check.labels)},
              "recipes": {k: RECIPES[k] for k in recipes}, "batch": batch, "minutes": minutes}
    log = open(out_p / "log.txt", "a")

    def say(msg: str) -> None:
        line = f"[{time.monotonic() - t0:6.1f}s] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    say(f"unpacked {len(cs.labels)} crops; split {report['identities']}")
    seconds = minutes * 60
    runs = [Recipe(n, weights, fit, device, seconds) for n in recipes]
    for r in runs:
        say(f"{r.name} zero-shot {r.consider(0, float('nan'), select)}")
        r.start = time.monotonic()  # schedules start with the training
    loader = torch.utils.data.DataLoader(Augmented(fit, 0), batch_size=batch, shuffle=True, drop_last=True,
                                         num_workers=workers, persistent_workers=workers > 0,
                                         prefetch_factor=4 if workers else None, pin_memory=device.type == "cuda")
    # a pass over `fit` takes seconds on a GPU: figures are taken every `eval_every` seconds
    start, rounds, steps, stop = time.monotonic(), 0, 0, False
    losses, n, last = {r.name: 0.0 for r in runs}, 0, start
    while not stop:
        for x, y in loader:
            x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            for r in runs:
                losses[r.name] += r.step(x, y)
            n, steps = n + 1, steps + 1
            now = time.monotonic()
            stop = now - start > seconds or bool(max_steps and steps >= max_steps)
            if stop or now - last >= eval_every:
                rounds, rate = rounds + 1, steps * batch / (now - start)
                for r in runs:
                    say(f"round {rounds} step {steps} {r.name} lr {r.opt.param_groups[0]['lr']:.2e} "
                        f"{r.consider(rounds, float(losses[r.name]) / n, select)} ({rate:.0f} img/s)")
                losses, n, last = {r.name: 0.0 for r in runs}, 0, time.monotonic()
            if stop:
                break
    report["steps"], report["train_seconds"] = steps, round(time.monotonic() - start, 1)

    chosen = {}
    for kind in ("mobilefacenet", "sface"):
        cands = [r for r in runs if r.kind == kind]
        if cands:
            chosen[kind] = max(cands, key=lambda r: (r.best[0]["B"], r.best[0]["A"]))
    report["runs"] = {r.name: {"best": r.best[0], "history": r.history} for r in runs}
    report["chosen"] = {k: r.name for k, r in chosen.items()}
    for kind, r in chosen.items():
        r.model.net.load_state_dict(r.best[1])
        state = {k: v.half() if v.is_floating_point() else v for k, v in r.model.net.state_dict().items()}
        if kind == "sface":  # two files: one is capped at 16 MB on the way back
            fc = {k: v for k, v in state.items() if k.startswith(("fc.", "bn_fc."))}
            torch.save(fc, out_p / "sface_fc.pt")
            torch.save({k: v for k, v in state.items() if k not in fc}, out_p / "sface_features.pt")
        else:
            torch.save(state, out_p / "mobilefacenet.pt")
        say(f"chosen {kind}: {r.name} round {r.best[0]['round']} select {r.best[0]}")

    # every figure below is of the chosen states; `check` is scored, never chosen on
    emb = {k: {s: embed(r.model, part.crops, device) for s, part in (("fit", fit), ("select", select),
                                                                     ("check", check))}
           for k, r in chosen.items()}
    report["check"] = {k: score(emb[k]["check"], check) for k in emb}
    if len(chosen) == 2:
        kinds = ["mobilefacenet", "sface"]
        fusion = choose_fusion([emb[k]["fit"] for k in kinds], fit.labels, [emb[k]["select"] for k in kinds], select)
        c = fusion["choice"]
        report["fusion"] = {"choice": c, "trials": fusion["trials"]}
        report["check"]["fused"] = score(fuse([emb[k]["check"] for k in kinds], fusion["projections"],
                                              [1 - c["w_sface"], c["w_sface"]]), check)
        np.savez(out_p / "fusion.npz", proj_mobilefacenet=fusion["projections"][0],
                 proj_sface=fusion["projections"][1], weights=np.array([1 - c["w_sface"], c["w_sface"]]))
        say(f"fusion {c}")
    say(f"check (never chosen on): {report['check']}")
    report["seconds"] = round(time.monotonic() - t0, 1)
    (out_p / "report.json").write_text(json.dumps(report, indent=1))
    say("done")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="align and pack FACECOM train (CPU, once)")
    p.add_argument("train_dir")
    p.add_argument("out")
    r = sub.add_parser("run", help="train, choose and fuse (GPU)")
    r.add_argument("pack_dir")
    r.add_argument("out")
    r.add_argument("--minutes", type=float, default=5.0, help="training time, shared by all recipes")
    r.add_argument("--recipes", default=",".join(RECIPES))
    r.add_argument("--batch", type=int, default=256)
    r.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    r.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    r.add_argument("--eval-every", type=float, default=15.0, help="seconds of training between figures")
    r.add_argument("--mobilefacenet", default="../shared/weights/mobilefacenet_ms1m.pt")
    r.add_argument("--sface", default="../shared/weights/sface_2021dec_int8bq.onnx")
    a = ap.parse_args()
    if a.cmd == "pack":
        pack(a.train_dir, a.out)
    else:
        run(a.pack_dir, a.out, a.minutes, {"mobilefacenet": a.mobilefacenet, "sface": a.sface},
            a.recipes.split(","), a.batch, a.workers, a.max_steps, a.eval_every)


if __name__ == "__main__":
    main()
