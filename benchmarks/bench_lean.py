"""The lean runtime, before and after, side by side in one run: install, cold query, pipeline, serve.

    python benchmarks/bench_lean.py ../shared/data/facecom/val --before /work/main --after . \
        [--work /tmp/bench-lean] [--json docs/results/lean_runtime.json]

For each checkout (``--before``: today's code, ``--after``: this one):

- plain install: ``pip install <checkout>`` (no extras, as a user runs it) into a fresh venv
  under ``--work``: seconds, and the venv's size on disk;
- cold ``facesearch query one.jpg`` on a 10-person gallery: a new process each run (after one
  untimed run, so the OS file cache is warm for both), median of ``--cli-runs``;
- full pipeline (decode + detect + align + embed, the shipped model) on ``--photos`` distorted
  val photos in one process: photos/s; the two sides' vectors are compared (same accuracy);
- ``benchmarks/bench_serve.py`` with each venv's ``facesearch`` (warm p50, searches/s), the
  sides taking turns, median of ``--serve-rounds``.

Figures are measured here and now on this machine; a shared VM varies from hour to hour, which
is why both sides run in the same session. ``--reuse`` keeps existing venvs (and the install
figures of the previous ``--json``) instead of installing again.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PIPELINE = r"""
import json, sys, time
import numpy as np
from facesearch.encoders import create_encoder
from facesearch.faces.pipeline import Embedder
paths = open(sys.argv[1]).read().split()
emb = Embedder(create_encoder("default"))
list(emb.run(paths[:8]))  # models loaded, first calls paid: not counted
t = time.perf_counter()
vectors = [r.vector for r in emb.run(paths)]
dt = time.perf_counter() - t
np.save(sys.argv[2], np.stack(vectors))
print(json.dumps({"photos": len(paths), "seconds": dt, "photos_per_s": len(paths) / dt}))
"""


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install(checkout: Path, venv: Path) -> dict:
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    t = time.perf_counter()
    out = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-cache-dir", str(checkout)],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode:
        sys.exit(f"pip install {checkout} failed:\n{out.stderr[-3000:]}")
    has_torch = subprocess.run([str(venv / "bin" / "python"), "-c", "import importlib.util as u; "
                                "print(u.find_spec('torch') is not None)"], capture_output=True, text=True).stdout.strip()
    return {"seconds": seconds, "venv_bytes": du(venv), "torch_installed": has_torch == "True"}


def cold_queries(venvs: dict[str, Path], dbs: dict[str, Path], photo: Path, runs: int) -> dict:
    """Fresh `facesearch query` processes, the sides taking turns (a busy spell hits both)."""
    cmds = {side: [str(venv / "bin" / "facesearch"), "query", str(photo), "--db", str(dbs[side]), "--json"]
            for side, venv in venvs.items()}
    walls: dict[str, list] = {side: [] for side in venvs}
    for cmd in cmds.values():
        subprocess.run(cmd, check=True, capture_output=True)  # untimed: OS file cache warm for both sides
    for _ in range(runs):
        for side, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            walls[side].append(time.perf_counter() - t)
    return {side: {"runs": runs, "median_s": statistics.median(w), "min_s": min(w), "max_s": max(w)}
            for side, w in walls.items()}


def pipeline(venv: Path, listing: Path, vectors: Path) -> dict:
    out = subprocess.run([str(venv / "bin" / "python"), "-c", PIPELINE, str(listing), str(vectors)],
                         check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def pipelines(venvs: dict[str, Path], listing: Path, work: Path, rounds: int) -> dict:
    """photos/s of each side, the sides taking turns; the median round is kept."""
    runs: dict[str, list] = {side: [] for side in venvs}
    for _ in range(rounds):
        for side, venv in venvs.items():
            runs[side].append(pipeline(venv, listing, work / f"vectors-{side}.npy"))
    return {side: {**sorted(r, key=lambda x: x["photos_per_s"])[len(r) // 2], "rounds_photos_per_s":
                   [x["photos_per_s"] for x in r]} for side, r in runs.items()}


def serve(venv: Path, root: Path, db: Path, requests: int, seconds: float, out: Path) -> dict:
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "requests"], check=True, env=env)
    subprocess.run([str(venv / "bin" / "python"), str(HERE / "bench_serve.py"), str(root), "--db", str(db),
                    "--requests", str(requests), "--seconds", str(seconds), "--cli-runs", "0", "--json", str(out)],
                   check=True, env=env, capture_output=True, cwd=tempfile.gettempdir())
    r = json.loads(out.read_text())
    by_clients = {c["clients"]: c for c in r["concurrent"]}
    return {"p50_ms": r["sequential"]["p50_ms"], "p90_ms": r["sequential"]["p90_ms"],
            "server_p50_ms": r["sequential"]["server_p50_ms"], "in_process_p50_ms": r["in_process"]["p50_ms"],
            "per_s_1": by_clients[1]["per_s"], "per_s_4": by_clients[4]["per_s"], "per_s_16": by_clients[16]["per_s"]}


def report(out: dict) -> None:
    """The Markdown tables `benchmarks/results.py record` keeps, from one run's figures."""
    b, a = out["before"], out["after"]
    load = out["machine"]
    print(f"# Lean runtime: today's main vs the ONNX-only runtime, side by side ({load['cpus']} CPUs, load average "
          f"{load['load_before'][0]:.1f} at the start, {load['load_after'][0]:.1f} at the end)")
    print("| | before | after | ratio |")
    print("|---|---|---|---|")
    r = out["ratios"]
    print(f"| venv size (GB) | {b['install']['venv_bytes'] / 1e9:.2f} | {a['install']['venv_bytes'] / 1e9:.2f} | "
          f"{r['venv_size_after_over_before']:.2f}x |")
    print(f"| install (s) | {b['install']['seconds']:.0f} | {a['install']['seconds']:.0f} | "
          f"{r['install_time_after_over_before']:.2f}x |")
    print(f"| cold query, median (s) | {b['cold_query']['median_s']:.2f} | {a['cold_query']['median_s']:.2f} | "
          f"{r['cold_query_before_over_after']:.2f}x faster |")
    print(f"| pipeline (photos/s) | {b['pipeline']['photos_per_s']:.1f} | {a['pipeline']['photos_per_s']:.1f} | "
          f"{r['pipeline_after_over_before']:.2f}x |")
    print(f"| serve p50 (ms) | {b['serve']['p50_ms']:.1f} | {a['serve']['p50_ms']:.1f} | "
          f"{r['serve_p50_after_over_before']:.2f}x |")
    print(f"| serve, 4 clients (searches/s) | {b['serve']['per_s_4']:.1f} | {a['serve']['per_s_4']:.1f} | "
          f"{r['serve_throughput4_after_over_before']:.2f}x |")
    print(f"pipeline vectors, before vs after: max |difference| {out['pipeline_vectors_max_abs_diff']:.2e}; "
          f"torch installed: before {b['install']['torch_installed']}, after {a['install']['torch_installed']}")
    print("```\n" + json.dumps(out, indent=1) + "\n```")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="FACECOM val (person folders with distortion/)")
    ap.add_argument("--before", type=Path, required=True, help="today's checkout (e.g. a worktree of main)")
    ap.add_argument("--after", type=Path, default=HERE.parent)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-lean")
    ap.add_argument("--cli-runs", type=int, default=5)
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="pipeline runs per side (median kept)")
    ap.add_argument("--requests", type=int, default=150)
    ap.add_argument("--serve-rounds", type=int, default=3, help="bench_serve.py runs per side (median kept)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--reuse", action="store_true", help="keep existing venvs and their install figures")
    ap.add_argument("--serve-only", action="store_true", help="with --reuse: measure serve again, keep the rest")
    ap.add_argument("--json", type=Path, default=None, help="the raw figures (default: WORK/lean_runtime.json); "
                    "the printed report is what `benchmarks/results.py record lean_runtime -- ...` keeps")
    ap.add_argument("--report", action="store_true", help="print the report of the figures in --json (a run "
                    "already made, e.g. to record it with benchmarks/results.py) and measure nothing")
    args = ap.parse_args()
    args.root = args.root.resolve()  # the photo list and gallery links are read from other folders
    args.work.mkdir(parents=True, exist_ok=True)
    args.json = args.json or args.work / "lean_runtime.json"
    if args.report:
        return report(json.loads(args.json.read_text()))
    previous = json.loads(args.json.read_text()) if args.reuse and args.json.is_file() else {}
    people = sorted(p for p in args.root.iterdir() if p.is_dir())
    gallery = args.work / "gallery10"
    for person in people[:10]:  # one clean photo each, linked
        (gallery / person.name).mkdir(parents=True, exist_ok=True)
        link = gallery / person.name / "1.jpg"
        if not link.exists():
            link.symlink_to(sorted(person.glob("*.jpg"))[0])
    photo = sorted((people[0] / "distortion").glob("*.jpg"))[0]
    distorted = sorted(args.root.glob("*/distortion/*.jpg"))[::7][:args.photos]
    listing = args.work / "photos.txt"
    listing.write_text("\n".join(map(str, distorted)))
    out = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}, "command": " ".join(sys.argv)}
    venvs = {side: args.work / f"venv-{side}" for side in ("before", "after")}
    dbs = {side: args.work / f"g10-{side}.db" for side in venvs}
    for side, checkout in (("before", args.before), ("after", args.after)):
        venv = venvs[side]
        out[side] = {"checkout": str(checkout.resolve())}
        if args.reuse and (venv / "bin" / "facesearch").exists() and side in previous:
            out[side]["install"] = previous[side]["install"]
        else:
            print(f"[{side}] pip install {checkout} ...", file=sys.stderr)
            out[side]["install"] = install(checkout, venv)
        if not args.serve_only:
            for f in (dbs[side], dbs[side].with_suffix(".faiss")):
                f.unlink(missing_ok=True)
            subprocess.run([str(venv / "bin" / "facesearch"), "index", str(gallery), "--db", str(dbs[side])],
                           check=True, capture_output=True)
    if args.serve_only:
        for side in venvs:
            out[side].update({k: previous[side][k] for k in ("cold_query", "pipeline")})
        out["pipeline_vectors_max_abs_diff"] = previous["pipeline_vectors_max_abs_diff"]
    else:
        print("cold queries ...", file=sys.stderr)
        for side, r in cold_queries(venvs, dbs, photo, args.cli_runs).items():
            out[side]["cold_query"] = r
        print("pipelines ...", file=sys.stderr)
        for side, r in pipelines(venvs, listing, args.work, args.rounds).items():
            out[side]["pipeline"] = r
        import numpy as np

        a, b = (np.load(args.work / f"vectors-{s}.npy") for s in ("before", "after"))
        out["pipeline_vectors_max_abs_diff"] = float(np.abs(a - b).max())
        args.json.write_text(json.dumps(out, indent=2) + "\n")  # kept for --reuse --serve-only if serve fails
    val_dbs = {side: args.work / f"val-{side}.db" for side in venvs}
    for side, db in val_dbs.items():  # one gallery per side: the after side would migrate a shared one
        if not db.exists():
            subprocess.run([str(venvs[side] / "bin" / "facesearch"), "index", str(args.root), "--db", str(db)],
                           check=True, capture_output=True)
    served: dict[str, list] = {"before": [], "after": []}
    for _ in range(args.serve_rounds):  # the sides take turns; each figure is the median of the rounds
        for side in served:
            print(f"[{side}] serve ...", file=sys.stderr)
            served[side].append(serve(venvs[side], args.root, val_dbs[side], args.requests, args.seconds,
                                      args.work / f"serve-{side}.json"))
    for side, rounds in served.items():
        out[side]["serve"] = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        out[side]["serve"]["rounds"] = rounds
    b, a = out["before"], out["after"]
    out["ratios"] = {
        "venv_size_after_over_before": a["install"]["venv_bytes"] / b["install"]["venv_bytes"],
        "install_time_after_over_before": a["install"]["seconds"] / b["install"]["seconds"],
        "cold_query_before_over_after": b["cold_query"]["median_s"] / a["cold_query"]["median_s"],
        "pipeline_after_over_before": a["pipeline"]["photos_per_s"] / b["pipeline"]["photos_per_s"],
        "serve_p50_after_over_before": a["serve"]["p50_ms"] / b["serve"]["p50_ms"],
        "serve_throughput4_after_over_before": a["serve"]["per_s_4"] / b["serve"]["per_s_4"],
    }
    out["machine"]["load_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    report(out)
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
