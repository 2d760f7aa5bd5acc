"""`facesearch reembed` on FACECOM, through the CLI as a user runs it: a gallery of every clean
photo of a split, built with the shipped model, moved to another encoder.

    python benchmarks/results.py record reembed_facecom_val -- python benchmarks/reembed_facecom.py \\
        /work/shared/data/facecom/val --model mobilefacenet --weights /work/shared/weights/mobilefacenet_ms1m.pt

Runs `index`, `reembed --json` (the before/after report), `reembed --switch` (nothing left to
embed: it resumes), `check`; prints the report as Markdown tables and the wall times.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "facesearch.cli"]


def run(*args: str) -> tuple[str, float]:
    start = time.perf_counter()
    out = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"facesearch {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return out.stdout, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("split", type=Path)
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    db = str(Path(tempfile.mkdtemp(prefix="reembed-")) / "g.db")
    new = ["--model", args.model] + (["--weights", args.weights] if args.weights else [])
    indexed, _ = run("index", str(args.split), "--db", db, "--json")
    out, t_reembed = run("reembed", "--db", db, *new, "--json")
    report = json.loads(out)
    switched, t_switch = run("reembed", "--db", db, *new, "--switch", "--json")
    checked, _ = run("check", "--db", db)
    b, a = report["before"], report["after"]
    lines = [f"# reembed: {json.loads(indexed)['photos']} gallery photos of {args.split.name}, shipped model -> "
             f"{args.model}", "", "| on the gallery's own photos | before (shipped) | after (new) |", "|---|---|---|",
             f"| leave-one-out top-1 ({b['loo_queries']} queries) | {b['loo_top1']} | {a['loo_top1']} |"]
    for kind in ("genuine", "impostor"):
        lines.append(f"| {kind} score mean / p5 / p95 ({b[kind]['pairs']} pairs) | "
                     + " | ".join(f"{x[kind]['mean']} / {x[kind]['p5']} / {x[kind]['p95']}" for x in (b, a)) + " |")
    lines += [f"| leave-one-out answers that change | {report['answers_changed']} | |",
              f"| wall time: reembed (model load included) | {t_reembed:.1f} s | |",
              f"| wall time: reembed --switch (resumed {json.loads(switched)['resumed']}) | {t_switch:.1f} s | |",
              f"| check after the switch | {checked.strip()} | |", "", "```", json.dumps(report), "```"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
