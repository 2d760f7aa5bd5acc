"""This checkout's pipeline against an earlier revision's, in one process: same detections? how fast?

    python benchmarks/pipeline_ab.py ../shared/data/facecom/val --base main [--every 3] [--rounds 5]

The earlier revision's ``facesearch/faces/mtcnn.py`` and ``facesearch/faces/pipeline.py`` and its
MTCNN graphs (read with ``git show BASE:...``) are loaded beside this checkout's as modules of
the same package, so both sides run in one process on the same photos and the same encoder:

- detections: every ``--every``-th val photo (clean and distorted) through both MTCNNs,
  in batches of ``--batch``: the same number of faces per photo, boxes and landmarks to
  within ``--tolerance`` pixels, and the largest difference of each;
- speed: the full pipeline (decode + detect + align + embed, ``Embedder.run``) of the
  ``--photos`` distorted val photos ``bench_lean.py`` times, the sides taking turns for
  ``--rounds`` rounds (a busy spell of a shared machine hits both); photos/s of each round,
  the median, and the ratio of the medians; the CPU time per photo of all threads (less
  sensitive to other jobs than the wall clock). The vectors of the two sides are compared too.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def git_show(base: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(HERE.parent), "show", f"{base}:{path}"], check=True,
                          capture_output=True).stdout


def load_old(base: str, name: str):
    """``facesearch/faces/<name>.py`` at git revision ``base``, as ``facesearch.faces.<name>_base``."""
    source = git_show(base, f"facesearch/faces/{name}.py").decode()
    spec = importlib.util.spec_from_loader(f"facesearch.faces.{name}_base", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "facesearch.faces"
    sys.modules[spec.name] = module
    exec(compile(source, f"{base}:facesearch/faces/{name}.py", "exec"), module.__dict__)
    return module


def compare_detections(paths, old, new, batch: int, tolerance: float) -> dict:
    from facesearch.photos.images import load_rgb

    differ, box_diff, point_diff, faces = [], 0.0, 0.0, 0
    by_size: dict = {}
    for p in paths:
        im = load_rgb(p)
        by_size.setdefault(im.size, []).append((p, im))
    for group in by_size.values():
        for i in range(0, len(group), batch):
            chunk = group[i:i + batch]
            ims = [im for _, im in chunk]
            for (p, _), (ob, op, ol), (nb, np_, nl) in zip(chunk, old.detect(ims), new.detect(ims)):
                if ob is None or nb is None:
                    if (ob is None) != (nb is None):
                        differ.append(f"{p}: {0 if ob is None else len(ob)} vs {0 if nb is None else len(nb)} faces")
                    continue
                if len(ob) != len(nb):
                    differ.append(f"{p}: {len(ob)} vs {len(nb)} faces")
                    continue
                faces += len(ob)
                b, pt = float(np.abs(ob - nb).max()), float(np.abs(ol - nl).max())
                box_diff, point_diff = max(box_diff, b), max(point_diff, pt)
                if max(b, pt) > tolerance:
                    differ.append(f"{p}: boxes differ by {b:.3f} px, landmarks by {pt:.3f} px")
    return {"photos": len(paths), "faces": faces, "differ": differ, "box": box_diff, "points": point_diff}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="FACECOM val (person folders with distortion/)")
    ap.add_argument("--base", default="main", help="the git revision to compare with")
    ap.add_argument("--every", type=int, default=3, help="detections: every n-th val photo")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tolerance", type=float, default=1.0, help="pixels")
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-detections", action="store_true")
    args = ap.parse_args()
    from facesearch.config import MIN_FACE_SIZE
    from facesearch.encoders import create_encoder
    from facesearch.faces import pipeline as new_pipeline
    from facesearch.faces.mtcnn import MTCNN

    old_mtcnn, old_pipeline = load_old(args.base, "mtcnn"), load_old(args.base, "pipeline")
    graphs = Path(tempfile.mkdtemp())
    old_mtcnn.MTCNN_GRAPHS = {}  # the base revision's own graphs, not this checkout's
    for net in ("pnet", "rnet", "onet"):
        old_mtcnn.MTCNN_GRAPHS[net] = graphs / f"mtcnn_{net}.onnx"
        old_mtcnn.MTCNN_GRAPHS[net].write_bytes(git_show(args.base, f"facesearch/weights/mtcnn_{net}.onnx"))
    head = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    print(f"# This checkout ({head}, uncommitted changes included) against {args.base}, in one process")
    if not args.skip_detections:
        photos = sorted(args.root.glob("*/*.jpg")) + sorted(args.root.glob("*/distortion/*.jpg"))
        r = compare_detections(photos[::args.every], old_mtcnn.MTCNN(min_face_size=MIN_FACE_SIZE),
                               MTCNN(min_face_size=MIN_FACE_SIZE), args.batch, args.tolerance)
        print(f"Detections on {r['photos']} val photos (every {args.every}th, clean and distorted, batches of "
              f"{args.batch}): {r['faces']} faces; {len(r['differ'])} photos differ (face count, or more than "
              f"{args.tolerance} px); largest difference: boxes {r['box']:.2e} px, landmarks {r['points']:.2e} px")
        for line in r["differ"][:20]:
            print(f"- {line}")
    paths = [str(p) for p in sorted(args.root.glob("*/distortion/*.jpg"))[::7][:args.photos]]
    encoder = create_encoder("default")
    sides = {args.base: old_pipeline.Embedder(encoder), "this checkout": new_pipeline.Embedder(encoder)}
    sides[args.base].aligner._mtcnn = old_mtcnn.MTCNN(min_face_size=MIN_FACE_SIZE)
    vectors, rates, cpu = {}, {side: [] for side in sides}, {side: [] for side in sides}
    for side, emb in sides.items():
        list(emb.run(paths[:8]))  # sessions opened, first calls paid: not counted
    for _ in range(args.rounds):
        for side, emb in sides.items():
            t, c = time.perf_counter(), time.process_time()
            vectors[side] = np.stack([r.vector for r in emb.run(paths)])
            rates[side].append(len(paths) / (time.perf_counter() - t))
            cpu[side].append((time.process_time() - c) / len(paths) * 1e3)
    a, b = (statistics.median(rates[s]) for s in sides)
    print(f"\nFull pipeline (decode + detect + align + embed, `Embedder.run`) on {len(paths)} distorted val photos, "
          f"{args.rounds} rounds, the sides taking turns:\n")
    print("| side | photos/s, median | rounds | CPU ms per photo (all threads), median |")
    print("|---|---|---|---|")
    for side in sides:
        print(f"| {side} | {statistics.median(rates[side]):.1f} | {' / '.join(f'{x:.1f}' for x in rates[side])} | "
              f"{statistics.median(cpu[side]):.1f} |")
    ca, cb = (statistics.median(cpu[s]) for s in sides)
    print(f"\nthis checkout / {args.base}: {b / a:.2f}x the photos/s, {ca / cb:.2f}x less CPU per photo; "
          f"vectors: max |difference| "
          f"{float(np.abs(vectors[args.base] - vectors['this checkout']).max()):.2e}")


if __name__ == "__main__":
    main()
