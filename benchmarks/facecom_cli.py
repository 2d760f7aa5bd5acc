"""Accuracy and speed of facesearch on FACECOM, measured through the CLI as a user runs it.

    python benchmarks/facecom_cli.py ../shared/data/facecom/val [--model M --weights W] [--out DIR]

Protocol A: enrol every clean photo, query every distorted copy.
Protocol B: enrol only the first clean photo of each identity; query the distorted copies
of that identity's *other* clean photos (the source photo is never enrolled).
Prints a Markdown table: top-1 / top-5 overall and per distortion, and photos/s of `index`
and `query` (``benchmarks/results.py record NAME -- ...`` keeps it as docs data).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

KINDS = ("blurred", "foggy", "lowlight", "noisy", "rainy", "resized", "sunny")


def run(cmd: list[str]) -> tuple[str, float]:
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if out.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return out.stdout, dt


def layout(root: Path):
    """identity -> (sorted clean photos, {clean stem: [distorted photos]})."""
    data = {}
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        clean = sorted(person.glob("*.jpg"))
        dist = defaultdict(list)
        for d in sorted((person / "distortion").glob("*.jpg")):
            dist[d.stem.rsplit("_", 1)[0]].append(d)
        data[person.name] = (clean, dist)
    return data


def score(lines: str, truth: dict[str, str]) -> dict:
    hits1, hits5, by_kind = 0, 0, defaultdict(lambda: [0, 0])
    n = 0
    for line in lines.splitlines():
        r = json.loads(line)
        want = truth[r["query"]]
        names = [m["identity"] for m in r["matches"]]
        n += 1
        hits1 += names[:1] == [want]
        hits5 += want in names[:5]
        kind = Path(r["query"]).stem.rsplit("_", 1)[1]
        by_kind[kind][0] += names[:1] == [want]
        by_kind[kind][1] += 1
    return {"queries": n, "top1": hits1 / n, "top5": hits5 / n,
            "by_distortion": {k: v[0] / v[1] for k, v in sorted(by_kind.items())}}


def protocol(name: str, gallery: Path, queries: list[Path], truth, model_args, work: Path, include_distorted=False):
    db = work / f"{name}.db"
    cmd = ["facesearch", "index", str(gallery), "--db", str(db), *model_args]
    _, t_index = run(cmd + (["--include-distorted"] if include_distorted else []))
    n_enrolled = sum(1 for p in gallery.iterdir() for _ in p.glob("*.jpg"))
    out, t_query = run(["facesearch", "query", *map(str, queries), "--db", str(db), "--k", "5", "--json"])
    res = score(out, truth)
    res.update(index_photos_per_s=n_enrolled / t_index, query_photos_per_s=len(queries) / t_query,
               index_wall_s=t_index, query_wall_s=t_query)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--model", default=None)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--protocols", default="A,B")
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()
    model_args = (["--model", args.model] if args.model else []) + (["--weights", args.weights] if args.weights else [])
    data = layout(args.root.resolve())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "A" in args.protocols:
            queries = [d for _, dist in data.values() for ds in dist.values() for d in ds]
            truth = {str(d): name for name, (_, dist) in data.items() for ds in dist.values() for d in ds}
            results["A"] = protocol("A", args.root.resolve(), queries, truth, model_args, work)
        if "B" in args.protocols:
            gal = work / "gallery_b"
            queries, truth = [], {}
            for name, (clean, dist) in data.items():
                (gal / name).mkdir(parents=True)
                (gal / name / clean[0].name).symlink_to(clean[0])
                for c in clean[1:]:
                    for d in dist[c.stem]:
                        queries.append(d)
                        truth[str(d)] = name
            results["B"] = protocol("B", gal, queries, truth, model_args, work)
    kinds = sorted({k for r in results.values() for k in r["by_distortion"]})
    print(f"`facesearch index` + `facesearch query --json` on {args.root.name}"
          + (f" with {' '.join(model_args)}" if model_args else " with the shipped model") + ".\n")
    print("| protocol | queries | top-1 | top-5 | " + " | ".join(kinds) + " | index photos/s | query photos/s |")
    print("|---|---|---|---|" + "---|" * len(kinds) + "---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['queries']} | {r['top1']:.4f} | {r['top5']:.4f} | "
              + " | ".join(f"{r['by_distortion'].get(k, float('nan')):.3f}" for k in kinds)
              + f" | {r['index_photos_per_s']:.1f} | {r['query_photos_per_s']:.1f} |")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
