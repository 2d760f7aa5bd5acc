"""Fine-tune SFace's last block and embedding layer on a CPU, from cached activations.

    # once: SFace's frozen part (conv_1 .. conv_13) run over FACECOM train, kept on disk
    python -m training.sface_tail cache /work/shared/data/facecom/train ~/facesearch-runs/cpu-ft
    # a recipe: which part trains, optimiser settings; its figures on `select` after every epoch
    python -m training.sface_tail train ~/facesearch-runs/cpu-ft --name fc-lr0.01 --train fc --lr 0.01
    # the network with a trained tail as a graph facesearch runs (prints its SHA-256)
    python -m training.sface_tail export ~/facesearch-runs/cpu-ft/runs/NAME/epoch-K.pt out.onnx

Almost all of SFace's cost is the convolutions before its last block, and those stay as
published: their output for every training crop and its mirror (1024 x 7 x 7, float16) is
computed once with ONNX Runtime and cached, resumably, in ``RUN/acts``. Training then runs
only the tail (``--train conv14``: the last depthwise + pointwise block, BatchNorm and the
50,176 -> 128 embedding layer; ``--train fc``: the embedding layer and its BatchNorm) with an
ArcFace margin head (training.losses, started at the class prototypes), SGD and a warm-up +
cosine schedule. BatchNorm statistics stay as published (the tail sees one mirror of each
crop at random per epoch; FACECOM's own distorted photos are most of the crops). With
``--train fc`` the frozen last block runs once (``RUN/body``; ``body`` fills it ahead).

Training and scoring use what the cache holds so far (:func:`available`): ``fit``'s finished
rows, and mirrors only where they are complete; ``cache --only`` chooses what is cached first.
Identities are split as the GPU recipe splits them (training.gpu_recipe.split_names): the
tail trains on ``fit``; after every epoch its embeddings of ``select`` are scored
(protocol B top-1, distorted queries against clean galleries) and the state is kept in
``RUN/runs/NAME/epoch-K.pt``, so a run resumes after the last finished epoch. ``check`` is
not looked at here (benchmarks/sface_tail.py scores the chosen state on it).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from tqdm import tqdm

from facesearch.encoders.torch_net import export_onnx

from .data import CropSet, load_crops
from .gpu_recipe import score, split_names
from .losses import MarginHead
from .sface import SFaceNet, from_onnx

CUT = 25  # SFaceNet.features[:CUT] (conv_1 .. conv_13) stays frozen; its output is cached
SHAPE = (1024, 7, 7)
PARTS = ("fit", "select", "check")
VIEWS = ("plain", "flip")
TRAINABLE = ("conv14", "fc")


class Prefix(nn.Module):
    """RGB 0..255 -> the activations at the cut (what is cached)."""

    def __init__(self, net: SFaceNet):
        super().__init__()
        self.features = net.features[:CUT]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - 127.5) * 0.0078125)


class Tail(nn.Module):
    """The activations at the cut -> SFace's raw 128-d embedding (the rest of SFaceNet)."""

    def __init__(self, net: SFaceNet):
        super().__init__()
        self.features, self.bn, self.dropout, self.fc, self.bn_fc = (net.features[CUT:], net.bn, net.dropout,
                                                                     net.fc, net.bn_fc)

    def body(self, a: torch.Tensor) -> torch.Tensor:
        """The last block and its BatchNorm (frozen with ``--train fc``: run once, see :func:`frozen_body`)."""
        return self.bn(self.features(a))

    def top(self, z: torch.Tensor) -> torch.Tensor:
        """Dropout, the embedding layer and its BatchNorm."""
        return self.bn_fc(self.fc(torch.flatten(self.dropout(z), 1)))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.top(self.body(a))

    def trainable(self, part: str) -> list[nn.Parameter]:
        """Parameters that train (all others are frozen), BatchNorm statistics kept as published."""
        mods = [self.fc, self.bn_fc] + ([self.features, self.bn] if part == "conv14" else [])
        for p in self.parameters():
            p.requires_grad_(False)
        params = [p for m in mods for p in m.parameters()]
        for p in params:
            p.requires_grad_(True)
        return params

    def train(self, mode: bool = True) -> "Tail":
        super().train(mode)
        for m in self.modules():  # dropout follows `mode`; BatchNorm never updates its statistics
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self


# ---------------------------------------------------------------------------------- cache
class Activations:
    """``RUN/acts/{part}-{view}.f16``: N x 1024 x 7 x 7 float16 rows, filled in order;
    ``{part}-{view}.done`` holds how many rows are final (so a stopped run resumes)."""

    def __init__(self, run: Path, part: str, view: str, n: int, mode: str = "r"):
        self.path, self.done_path = run / "acts" / f"{part}-{view}.f16", run / "acts" / f"{part}-{view}.done"
        self.n = n
        if mode == "w+" and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.lib.format.open_memmap(self.path, "w+", np.float16, (n, *SHAPE)).flush()
        self.array = np.load(self.path, mmap_mode="r+" if mode == "w+" else "r")

    @property
    def done(self) -> int:
        return int(self.done_path.read_text()) if self.done_path.exists() else 0

    def mark(self, rows: int) -> None:
        self.array.flush()
        tmp = self.done_path.with_suffix(".tmp")
        tmp.write_text(str(rows))
        tmp.replace(self.done_path)

    @classmethod
    def complete(cls, run: Path, part: str, view: str, n: int) -> "Activations | None":
        a = cls(run, part, view, n) if (run / "acts" / f"{part}-{view}.f16").exists() else None
        return a if a is not None and a.done == n else None


def available(run: Path, sets: dict[str, CropSet]) -> tuple[dict[str, CropSet], dict[str, list[np.ndarray]]]:
    """What the cache holds so far: each part's crops and views (plain, and the mirrors where
    those are complete). ``fit`` may be partial (its first finished rows: training can start
    before the cache is full); ``select`` and ``check`` only count once their plain views are
    complete (figures on part of a part would not compare)."""
    out_sets, views = {}, {}
    for part, cs in sets.items():
        acts = {v: Activations(run, part, v, len(cs.labels)) for v in VIEWS
                if (run / "acts" / f"{part}-{v}.f16").exists()}
        rows = acts["plain"].done if "plain" in acts else 0
        if rows == 0 or (part != "fit" and rows < len(cs.labels)):
            continue
        sub = cs.subset(np.arange(len(cs.labels)) < rows)
        out_sets[part] = sub.identities({sub.names[i] for i in sub.labels})  # rows stay in order
        views[part] = [a.array[:rows] for v, a in acts.items() if a.done >= rows]
    return out_sets, views


def export_prefix(sface_path: str | Path, out: Path) -> Path:
    """The frozen part as an ONNX graph (ONNX Runtime runs depthwise convolutions faster)."""
    if not out.exists():
        out.write_bytes(export_onnx(Prefix(from_onnx(sface_path)), torch.rand(2, 3, 112, 112) * 255))
    return out


# fit's plain views first (training can start on them), the mirrors last
ORDER = (("fit", "plain"), ("select", "plain"), ("select", "flip"), ("check", "plain"), ("check", "flip"),
         ("fit", "flip"))


def cache(sets: dict[str, CropSet], run: Path, sface_path: str | Path, batch: int = 32, threads: int = 2,
          order=ORDER) -> None:
    """Fill the activations of each (part, view) of ``order``, resuming where a stopped run left off."""
    import onnxruntime as ort

    run.mkdir(parents=True, exist_ok=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(export_prefix(sface_path, run / "prefix.onnx")), opts,
                                   providers=["CPUExecutionProvider"])
    for part, view in order:
        crops = sets[part].crops
        acts = Activations(run, part, view, len(crops), "w+")
        start = acts.done
        for i in tqdm(range(start, len(crops), batch), desc=f"{part} {view}", initial=start // batch,
                      total=math.ceil(len(crops) / batch)):
            x = crops[i:i + batch].transpose(0, 3, 1, 2).astype(np.float32)
            if view == "flip":
                x = np.ascontiguousarray(x[..., ::-1])
            acts.array[i:i + len(x)] = session.run(None, {"x": x})[0].astype(np.float16)
            if (i // batch) % 20 == 19 or i + batch >= len(crops):
                acts.mark(min(i + batch, len(crops)))


# ---------------------------------------------------------------------------------- training
@torch.no_grad()
def embed(tail: Tail, plain: np.ndarray, flip: np.ndarray | None = None, batch: int = 256,
          top_only: bool = False) -> np.ndarray:
    """L2-normalised embeddings from cached activations (or, ``top_only``, from
    :func:`frozen_body` outputs), flip-averaged when ``flip`` is given (as facesearch's encoders embed)."""
    tail.eval()
    forward = tail.top if top_only else tail
    out = []
    for i in range(0, len(plain), batch):
        e = forward(torch.from_numpy(np.asarray(plain[i:i + batch], np.float32)))
        if flip is not None:
            e = e + forward(torch.from_numpy(np.asarray(flip[i:i + batch], np.float32)))
        out.append(F.normalize(e, dim=1).numpy())
    return np.concatenate(out)


@torch.no_grad()
def frozen_body(tail: Tail, acts: np.ndarray, batch: int = 256, cache: Path | None = None) -> np.ndarray:
    """``tail.body`` of every row (float16): what the embedding layer sees when only it trains.
    ``cache``: a file holding it (the published body only: it is reused, never checked)."""
    if cache is not None and cache.exists():
        return np.load(cache, mmap_mode="r")
    tail.eval()
    out = np.concatenate([tail.body(torch.from_numpy(np.asarray(acts[i:i + batch], np.float32))).half().numpy()
                          for i in tqdm(range(0, len(acts), batch), desc="last block", leave=False)])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache.with_suffix(".tmp.npy"), out)
        cache.with_suffix(".tmp.npy").replace(cache)
    return out


def published_body(run: Path, tail: Tail, views: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """:func:`frozen_body` of every cached view, kept in ``RUN/body`` (``tail``'s body must be the
    published one)."""
    return {p: [frozen_body(tail, a, cache=run / "body" / f"{p}-{v}-{len(a)}.npy") for v, a in zip(VIEWS, vs)]
            for p, vs in views.items()}


def parts(train_dir: str) -> dict[str, CropSet]:
    """fit / select / check CropSets of FACECOM train (the GPU recipe's split)."""
    train = load_crops(train_dir)
    split = split_names(train.names)
    return {k: train.identities(split[k]) for k in PARTS}


def train(run: Path, sets: dict[str, CropSet], sface_path: str | Path, name: str, part: str, lr: float,
          epochs: int, batch: int = 128, margin: float = 0.3, seed: int = 0) -> list[dict]:
    """Train one recipe, scoring ``select`` after every epoch; resumes after the last saved epoch."""
    sets, views = available(run, sets)
    if "fit" not in sets or "select" not in sets:
        raise SystemExit("the activations of fit and select are not cached yet: run `cache`")
    fit, select, fit_views, sel_views = sets["fit"], sets["select"], views["fit"], views["select"]
    out = run / "runs" / name
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tail = Tail(from_onnx(sface_path))
    head = MarginHead(128, len(fit.names), s=32.0, m=margin)
    top_only = part == "fc"
    if top_only:  # the last block is frozen too: run it once, not every epoch
        body = published_body(run, tail, {"fit": fit_views, "select": sel_views})
        fit_views, sel_views = body["fit"], body["select"]
    protos = torch.from_numpy(embed(tail, *fit_views, top_only=top_only))
    head.init_from_prototypes(torch.zeros(len(fit.names), 128).index_add_(0, torch.from_numpy(fit.labels), protos))
    params = tail.trainable(part) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = epochs * (len(fit.labels) // batch)
    warm = max(1, steps // 20)
    sched = SequentialLR(opt, [LinearLR(opt, 0.05, 1.0, warm), CosineAnnealingLR(opt, steps - warm)], [warm])
    hist_path = out / "history.json"
    history = json.loads(hist_path.read_text()) if hist_path.exists() else []
    if not history:
        history.append({"epoch": 0, **score(embed(tail, *sel_views, top_only=top_only), select)})
    done = max((int(p.stem.split("-")[1]) for p in out.glob("epoch-*.pt")), default=0)
    if done:
        state = torch.load(out / f"epoch-{done}.pt", map_location="cpu")
        tail.load_state_dict(state["tail"]), head.load_state_dict(state["head"])
        opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
    labels = torch.from_numpy(fit.labels)
    rng = np.random.default_rng([seed, done])
    for epoch in range(done + 1, epochs + 1):
        t0, total, n = time.monotonic(), 0.0, 0
        tail.train()
        order = rng.permutation(len(fit.labels))
        view = rng.integers(0, len(fit_views), len(fit.labels))  # one mirror of each crop per epoch
        for i in tqdm(range(0, len(order) - batch + 1, batch), desc=f"{name} epoch {epoch}", leave=False):
            idx = np.sort(order[i:i + batch])  # sorted rows read faster from the memory map
            x = torch.from_numpy(np.stack([fit_views[view[j]][j] for j in idx]).astype(np.float32))
            y = labels[idx]
            loss = F.cross_entropy(head(tail.top(x) if top_only else tail(x), y), y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item(), n + 1
        rec = {"epoch": epoch, "loss": round(total / n, 4), "lr": opt.param_groups[0]["lr"],
               "seconds": round(time.monotonic() - t0, 1),
               **score(embed(tail, *sel_views, top_only=top_only), select), "fit_photos": len(fit.labels),
               "select_views": len(sel_views)}
        history.append(rec)
        torch.save({"tail": tail.state_dict(), "head": head.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "recipe": {"train": part, "lr": lr, "epochs": epochs,
                                                            "batch": batch, "margin": margin, "seed": seed}},
                   out / f"epoch-{epoch}.pt")
        hist_path.write_text(json.dumps(history, indent=1))
        print(json.dumps(rec), flush=True)
    return history


def export(checkpoint: str | Path, out: str | Path, sface_path: str | Path, arch: str = "sface-facecom") -> str:
    """The whole network, tail from ``checkpoint`` (an ``epoch-K.pt``), as a facesearch graph
    (RGB 0..255 in, raw 128-d out; databases record the graph's SHA-256). Returns that SHA-256."""
    from facesearch.encoders.base import file_checksum
    from facesearch.encoders.graphs import card_metadata
    from facesearch.encoders.sface import RAW_PIXELS
    from facesearch.encoders.torch_net import fuse_batchnorm
    from facesearch.files import atomic_write

    net = from_onnx(sface_path)
    Tail(net).load_state_dict(torch.load(checkpoint, map_location="cpu")["tail"])  # the tail shares net's modules
    meta = {k: v for k, v in card_metadata(arch, RAW_PIXELS, 128, "").items() if v}  # no checksum: the file's own
    with atomic_write(out) as f:
        f.write(export_onnx(fuse_batchnorm(net), torch.zeros(2, 3, 112, 112), metadata=meta))
    return file_checksum(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache", help="run the frozen part over FACECOM train once (resumable)")
    c.add_argument("train_dir")
    c.add_argument("run", type=Path)
    c.add_argument("--only", help="comma-separated part:view pairs to fill, in order (default: all, "
                                  + ", ".join(f"{p}:{v}" for p, v in ORDER) + ")")
    t = sub.add_parser("train", help="train the tail, scoring select after every epoch (resumable)")
    t.add_argument("run", type=Path)
    t.add_argument("--train-dir", default="/work/shared/data/facecom/train")
    t.add_argument("--name", required=True)
    t.add_argument("--train", choices=TRAINABLE, default="fc", help="which part trains")
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--epochs", type=int, default=6)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--margin", type=float, default=0.3)
    b = sub.add_parser("body", help="run the (published) last block over the cached activations once")
    b.add_argument("run", type=Path)
    b.add_argument("--train-dir", default="/work/shared/data/facecom/train")
    e = sub.add_parser("export", help="the network with a trained tail as an ONNX graph facesearch loads")
    e.add_argument("checkpoint")
    e.add_argument("out")
    for p in (c, t, b, e):
        p.add_argument("--sface", default=str(Path(__file__).resolve().parents[1] / "facesearch" / "weights"
                                              / "sface_2021dec_int8bq.onnx"))
        p.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.cmd == "export":
        print(export(a.checkpoint, a.out, a.sface), a.out)
    elif a.cmd == "body":
        published_body(a.run, Tail(from_onnx(a.sface)), available(a.run, parts(a.train_dir))[1])
    elif a.cmd == "cache":
        order = [tuple(x.split(":")) for x in a.only.split(",")] if a.only else ORDER
        cache(parts(a.train_dir), a.run, a.sface, threads=a.threads, order=order)
    else:
        train(a.run, parts(a.train_dir), a.sface, a.name, a.train, a.lr, a.epochs, a.batch, a.margin)


if __name__ == "__main__":
    main()
