"""Does SFace fine-tuned on CPU (training.sface_tail) make the fused model better on training
identities it never saw? Its chosen state against the published one, alone and fused.

    python benchmarks/sface_tail.py /work/shared/data/facecom/train ~/facesearch-runs/cpu-ft \
        [--npz ~/facesearch-runs/cpu-ft/fusion.npz]

Train identities are split as everywhere else (training.gpu_recipe.split_names): the tail
trained on ``fit``; its recipe and epoch are chosen here on ``select`` (protocol B top-1, ties
by A), over every run under ``RUN/runs`` (epoch 0, the published network, is a candidate).
For both SFace states the fusion with the shipped MobileFaceNet is refitted as
benchmarks/fusion_members.py fits it (WCCN on ``fit``, alphas and weight chosen on
``select``). ``check`` chooses nothing. Both states are embedded from the same float16
activation cache, so they differ only by the tail. Caveat (as in fusion_members.py): the
shipped MobileFaceNet was fine-tuned on all of train, so the fused rows on ``select`` and
``check`` are optimistic for both; the difference between them is what this measures.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from facesearch.encoders import create_encoder  # noqa: E402
from fusion_members import cached  # noqa: E402
from training.gpu_recipe import choose_fusion, fuse, score  # noqa: E402
from training.sface import from_onnx  # noqa: E402
from training.sface_tail import PARTS, Tail, available, embed, parts, published_body  # noqa: E402

SFACE = Path(__file__).resolve().parents[1] / "facesearch" / "weights" / "sface_2021dec_int8bq.onnx"


def best_epoch(run: Path) -> tuple[str, dict]:
    """(run name, history row) with the best protocol B (then A) on ``select`` over all runs."""
    rows = [(p.parent.name, h) for p in sorted(run.glob("runs/*/history.json")) for h in json.loads(p.read_text())]
    if not rows:
        raise SystemExit(f"no runs under {run}/runs: train one with python -m training.sface_tail train")
    return max(rows, key=lambda r: (r[1]["B"], r[1]["A"], -r[1]["epoch"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train_dir")
    ap.add_argument("run", type=Path)
    ap.add_argument("--npz", type=Path, help="write the fine-tuned state's fusion (fusion_mfn_sface.npz layout)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    full = parts(args.train_dir)
    sets, views = available(args.run, full)
    if set(sets) != set(PARTS):
        raise SystemExit(f"cache the activations first (python -m training.sface_tail cache): found {sorted(sets)}")

    name, row = best_epoch(args.run)
    published = Tail(from_onnx(SFACE))
    tuned = Tail(from_onnx(SFACE))
    recipe = {"train": "fc"}
    if row["epoch"]:
        state = torch.load(args.run / "runs" / name / f"epoch-{row['epoch']}.pt")
        tuned.load_state_dict(state["tail"])
        recipe = state["recipe"]
    body = published_body(args.run, published, views)  # the published last block, run once
    mfn = create_encoder()
    # the cache key is of the whole part; fit may be cached in part (its first rows)
    emb_mfn = {p: cached(f"mobilefacenet-{p}", cs.crops, lambda c: mfn.embed(c))[:len(sets[p].labels)]
               for p, cs in full.items()}
    rows, choices = {}, {}
    for label, tail in (("published", published), (f"fine-tuned ({name}, epoch {row['epoch']})", tuned)):
        if tail is published or recipe["train"] == "fc":
            emb = {p: embed(tail, *body[p], top_only=True) for p in sets}
        else:
            emb = {p: embed(tail, *views[p]) for p in sets}
        fusion = choose_fusion([emb_mfn["fit"], emb["fit"]], sets["fit"].labels,
                               [emb_mfn["select"], emb["select"]], sets["select"])
        c = choices[label] = fusion["choice"]
        for p in ("select", "check"):
            rows[p, f"sface {label}"] = score(emb[p], sets[p])
            rows[p, f"fused, sface {label}"] = score(fuse([emb_mfn[p], emb[p]], fusion["projections"],
                                                          [1 - c["w_sface"], c["w_sface"]]), sets[p])
        if args.npz and tail is tuned:
            args.npz.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.npz, proj_mobilefacenet=fusion["projections"][0], proj_sface=fusion["projections"][1],
                     weights=np.array([1 - c["w_sface"], c["w_sface"]]))
    mirrored = {p: "flip-averaged" if len(v) == 2 else "unmirrored crops only" for p, v in views.items()}
    print(f"Chosen on `select`: {name}, epoch {row['epoch']} ({row.get('seconds', 0)} s an epoch, trained on "
          f"{len(sets['fit'].labels)} photos of {len(sets['fit'].names)} `fit` identities). SFace embeddings, "
          f"both states: {', '.join(f'{p} {m}' for p, m in mirrored.items())} (what the activation cache holds). "
          f"Fusion refitted for each state (WCCN on `fit`; alphas and SFace weight on `select`): "
          + "; ".join(f"{k}: alpha {c['alpha_mfn']} / {c['alpha_sface']}, SFace weight {c['w_sface']}"
                      for k, c in choices.items()) + ". Caveat: the shipped MobileFaceNet was fine-tuned on all of "
          "train, so the fused rows are optimistic on both `select` and `check`; compare them with each other.\n")
    kinds = [k[2:] for k in next(iter(rows.values())) if k.startswith("B_")]
    print("| identities | model | A top-1 | B top-1 | " + " | ".join(f"B {k}" for k in kinds) + " |")
    print("|---|---|---|---|" + "---|" * len(kinds))
    for (p, label), sc in rows.items():
        print(f"| {p} | {label} | {sc['A']:.4f} | {sc['B']:.4f} | " + " | ".join(f"{sc['B_' + k]:.3f}" for k in kinds)
              + " |")
    labels = list(choices)
    gain = {p: rows[p, f"fused, sface {labels[1]}"]["B"] - rows[p, f"fused, sface {labels[0]}"]["B"]
            for p in ("select", "check")}
    keep = row["epoch"] > 0 and gain["select"] > 0 and gain["check"] > 0
    print(f"\nFused B, fine-tuned minus published: select {gain['select']:+.4f}, check {gain['check']:+.4f}: "
          + ("keep the fine-tuned SFace." if keep else "keep the published SFace."))


if __name__ == "__main__":
    main()
