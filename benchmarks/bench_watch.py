"""`facesearch watch` on a clip of three enrolled people shown one after another: does it
name them in order, with their time spans, and does it keep up in real time?

    python benchmarks/bench_watch.py ../shared/data/facecom/val [--db val.db] [--every 5]

Makes a 25 fps 320x240 clip (mp4v) from FACECOM val photos: three identities, each shown
for --seconds, drifting a few pixels a frame (so tracks must follow), grey between them;
the photos shown are distorted copies (--kind) of enrolled people, never the enrolled files.
Without --db, the clean val photos are enrolled first into a temporary database. Then runs
`facesearch watch CLIP --every N --json` as a user would and prints, side by side, who was
named when against the truth, and frames read per second of wall time (real time: >= fps)
for the whole process and for the watch loop alone.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

W, H, FPS = 320, 240, 25


def make_clip(photos: list[Path], path: Path, seconds: float, gap: float) -> list[tuple[float, float]]:
    """Write the clip; returns each photo's [shown from, to] in seconds."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    spans, frame = [], 0
    blank = np.full((H, W, 3), 90, np.uint8)
    for p in photos:
        for _ in range(int(gap * FPS)):
            writer.write(blank)
            frame += 1
        face = np.asarray(Image.open(p).convert("RGB").resize((180, 180)))[:, :, ::-1]
        first = frame
        for i in range(int(seconds * FPS)):
            img = blank.copy()
            x, y = 20 + (i * 2) % 100, 30 + (i // 2) % 30  # a slow drift, never off the frame
            img[y:y + 180, x:x + 180] = face
            writer.write(img)
            frame += 1
        spans.append((first / FPS, (frame - 1) / FPS))
    for _ in range(int(gap * FPS)):
        writer.write(blank)
    writer.release()
    return spans


def pick(root: Path, n: int, kind: str) -> list[tuple[str, Path]]:
    """The first ``n`` identities (sorted) that have a ``kind`` distorted photo."""
    out = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        found = sorted((person / "distortion").glob(f"*_{kind}.jpg"))
        if found:
            out.append((person.name, found[0]))
        if len(out) == n:
            return out
    sys.exit(f"fewer than {n} identities with {kind} photos under {root}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="FACECOM split (val)")
    ap.add_argument("--db", default=None, help="a database with ROOT's clean photos enrolled (default: build one)")
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--kind", default="blurred", help="which distorted copy is shown")
    ap.add_argument("--skip", type=int, default=0, help="start the pick after this many identities")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "g.db")
        if not args.db:
            subprocess.run(["facesearch", "index", str(args.root), "--db", db], check=True, capture_output=True)
        people = pick(args.root, 3 + args.skip, args.kind)[args.skip:]
        clip = Path(tmp) / "clip.mp4"
        truth = make_clip([p for _, p in people], clip, args.seconds, args.gap)
        t = time.perf_counter()
        out = subprocess.run(["facesearch", "watch", str(clip), "--db", db, "--every", str(args.every), "--json"],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
    if out.returncode:
        sys.exit(out.stderr)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    summary = lines[-1]
    named = [e["identity"] for e in summary["summary"]]
    print(f"clip: {FPS} fps {W}x{H}, {summary['frames_read']} frames ({summary['frames_read'] / FPS:.1f} s), "
          f"--every {args.every}, shown: {args.kind} copies")
    print("| shown | truth (s) | named | spans (s) |")
    print("|---|---|---|---|")
    for i, ((name, _), (a, b)) in enumerate(zip(people, truth)):
        got = summary["summary"][i] if i < len(summary["summary"]) else {"identity": "-", "spans": []}
        spans = ", ".join(f"{x:.2f}-{y:.2f}" for x, y in got["spans"])
        print(f"| {name} | {a:.2f}-{b:.2f} | {got['identity']} | {spans} |")
    in_order = named == [n for n, _ in people]
    print(f"named in order: {in_order} ({len(named)} identities named, {summary['unknown_tracks']} unknown tracks)")
    print(f"frames read per second of wall time: watch loop {summary['frames_per_s']:.1f}, "
          f"whole process (start-up, model load included) {summary['frames_read'] / wall:.1f}; real time is {FPS}")


if __name__ == "__main__":
    main()
