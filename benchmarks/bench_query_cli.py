"""Cold `facesearch query photo.jpg`: wall time of the real command and where it goes.

    python benchmarks/bench_query_cli.py ../shared/data/facecom/val [--runs 5]

Enrols the folder's clean photos into a temporary DB (once), then times fresh
`facesearch query` processes, and, in one fresh process, each stage: imports, DB open,
model load, decode+detect+align, embed, search.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = r"""
import json, sys, time
t0 = time.perf_counter(); marks = {}
import facesearch.cli, click, numpy, faiss, sqlalchemy  # what the CLI imports up front
marks["import cli"] = time.perf_counter()
from facesearch.gallery import Gallery
marks["import gallery"] = time.perf_counter()
g = Gallery(sys.argv[1]); marks["open DB (migrations checked)"] = time.perf_counter()
enc = g.encoder; marks["model load"] = time.perf_counter()
from facesearch.photos.images import load_rgb
im = load_rgb(sys.argv[2]); face = g.embedder().aligner.align([im])[0]
marks["decode + detect + align"] = time.perf_counter()
v = enc.embed(face.crop[None]); marks["embed"] = time.perf_counter()
g.search(v, 5); marks["index load + search"] = time.perf_counter()
prev, out = t0, {}
for k, t in marks.items():
    out[k] = t - prev; prev = t
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    photo = next(args.root.glob("*/distortion/*_noisy.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "fs.db"
        cmd = ["facesearch", "index", str(args.root), "--db", str(db)] + (["--model", args.model] if args.model else [])
        subprocess.run(cmd, check=True, capture_output=True)
        walls = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run(["facesearch", "query", str(photo), "--db", str(db)], check=True, capture_output=True)
            walls.append(time.perf_counter() - t)
        stages = json.loads(subprocess.run([sys.executable, "-c", STAGES, str(db), str(photo)], check=True,
                                           capture_output=True, text=True).stdout)
    print(f"cold `facesearch query {photo.name}` over {args.runs} runs: median {statistics.median(walls):.2f} s, "
          f"min {min(walls):.2f} s, max {max(walls):.2f} s")
    print("| stage (one fresh process) | seconds |")
    print("|---|---|")
    for k, v in stages.items():
        print(f"| {k} | {v:.3f} |")
    print(f"| total | {sum(stages.values()):.3f} |")


if __name__ == "__main__":
    main()
