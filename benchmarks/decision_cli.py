"""The out-of-the-box decision, measured through the CLI as a new user runs it: the shipped
calibration, no `calibrate`.

    python benchmarks/decision_cli.py ../shared/data/facecom/val \\
        [--train ../shared/data/facecom/train --identities 120] \\
        [--gender ../shared/data/facecom_gender] [--one-person 12] [--out docs/results]

Open set, per data set: the clean photos of every other identity (name order) are enrolled
with `facesearch index`, the distorted photos of all are queried with `facesearch query
--json`; reported: strangers accepted as someone, enrolled people named wrongly and rightly.
On train only identities of the check third of ``training/ship_calibration.py`` are used (the
shipped rules were chosen on another third; ``--identities`` of them, to bound the time).
One-person galleries: ``--one-person`` people of val (half women, half men), each enrolled
alone, queried with the distorted photos of up to ``--per-gallery`` other people of the same
sex; reported: the share accepted. Prints Markdown (record it: ``python benchmarks/results.py
record decision_cli -- python benchmarks/decision_cli.py ...``); ``--json-out`` also writes
every count.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from training.ship_calibration import identity_genders, split_identities


def cli(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "facesearch.cli", *map(str, args)], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"facesearch {' '.join(map(str, args[:3]))} ... failed:\n{out.stderr[-2000:]}")
    return out.stdout


def distorted(person: Path) -> list[Path]:
    return sorted((person / "distortion").glob("*.jpg"))


def enrol(people: list[Path], work: Path, name: str) -> Path:
    """A database of these people's clean photos (a folder of links to their folders)."""
    folder = work / name
    folder.mkdir()
    for p in people:
        (folder / p.name).symlink_to(p.resolve(), target_is_directory=True)
    db = work / f"{name}.db"
    cli("index", folder, "--db", db)
    return db


def query(db: Path, photos: list[Path]) -> list[dict]:
    lines = cli("query", *photos, "--db", db, "--json", "--k", "2").splitlines()
    return [r for r in map(json.loads, lines) if "error" not in r]


def open_set(people: list[Path], work: Path, name: str) -> dict:
    enrolled = people[::2]
    db = enrol(enrolled, work, name)
    truth = {str(p): person.name for person in people for p in distorted(person)}
    known = {p.name for p in enrolled}
    counts = {"strangers": [0, 0], "right": [0, 0], "wrong": [0, 0]}
    sources = {}
    for r in query(db, [Path(p) for p in truth]):
        who = truth[r["query"]]
        sources[r["calibration"]] = sources.get(r["calibration"], 0) + 1
        named = r["matches"][0]["identity"] if r["accepted"] else None
        if who in known:
            counts["right"][0] += named == who
            counts["wrong"][0] += named is not None and named != who
            counts["right"][1] += 1
            counts["wrong"][1] += 1
        else:
            counts["strangers"][0] += named is not None
            counts["strangers"][1] += 1
    return {"enrolled": len(enrolled), "stranger_identities": len(people) - len(enrolled), "decided_by": sources,
            **{k: {"rate": a / n if n else None, "accepted": a, "queries": n} for k, (a, n) in counts.items()}}


def one_person(people: list[Path], sexes: dict, work: Path, galleries: int, per_gallery: int, seed: int) -> dict:
    rng = random.Random(seed)
    out = {}
    for sex in ("female", "male"):
        same = [p for p in people if sexes.get(p.name) == sex]
        accepted = queries = 0
        for i, person in enumerate(rng.sample(same, min(galleries // 2, len(same)))):
            db = enrol([person], work, f"one-{sex}-{i}")
            others = rng.sample([p for p in same if p != person], min(per_gallery, len(same) - 1))
            results = query(db, [rng.choice(distorted(p)) for p in others if distorted(p)])
            accepted += sum(bool(r["accepted"]) for r in results)
            queries += len(results)
        out[sex] = {"rate": accepted / queries if queries else None, "accepted": accepted, "queries": queries}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("val", type=Path)
    ap.add_argument("--train", type=Path, default=None)
    ap.add_argument("--identities", type=int, default=120, help="check-third train identities to use")
    ap.add_argument("--gender", type=Path, default=None, help="facecom_gender: one-person galleries by sex")
    ap.add_argument("--one-person", type=int, default=12, help="one-person galleries (half of each sex)")
    ap.add_argument("--per-gallery", type=int, default=60, help="other people queried per one-person gallery")
    ap.add_argument("--seed", type=int, default=0, help="the train split of training/ship_calibration.py")
    ap.add_argument("--json-out", type=Path, default=None, help="also write every count here (JSON)")
    a = ap.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        val = sorted(p for p in a.val.iterdir() if p.is_dir())
        report["val"] = open_set(val, work, "val")
        if a.train is not None:
            train = sorted(p for p in a.train.iterdir() if p.is_dir())
            check = set(split_identities([p.name for p in train], a.seed)[2])
            held = random.Random(a.seed).sample([p for p in train if p.name in check], a.identities)
            report["train check third"] = open_set(sorted(held), work, "train")
        if a.gender is not None:
            report["one-person galleries (val)"] = one_person(val, identity_genders(a.gender / "val", [p.name for p in val]),
                                                              work, a.one_person, a.per_gallery, a.seed)
    if a.json_out is not None:
        a.json_out.write_text(json.dumps(report, indent=1))
    pct = lambda r: "-" if r["rate"] is None else f"{100 * r['rate']:.2f}% ({r['accepted']}/{r['queries']})"  # noqa: E731
    print("# Out of the box through the CLI: the shipped calibration, no `calibrate`\n")
    print("| data | strangers accepted (goal <= 1%) | enrolled named wrongly (<= 0.5%) | rightly (>= 80%) |")
    print("|---|---|---|---|")
    for name in ("val", "train check third"):
        if name in report:
            r = report[name]
            print(f"| {name} ({r['enrolled']} enrolled, {r['stranger_identities']} strangers; decided by "
                  f"{', '.join(f'{k}: {v}' for k, v in r['decided_by'].items())}) | "
                  f"{pct(r['strangers'])} | {pct(r['wrong'])} | {pct(r['right'])} |")
    if "one-person galleries (val)" in report:
        r = report["one-person galleries (val)"]
        print("\n| one-person galleries of val: other people of the same sex accepted (goal <= 2%) | women | men |")
        print("|---|---|---|")
        print(f"| {a.one_person} galleries, up to {a.per_gallery} others each | {pct(r['female'])} | {pct(r['male'])} |")


if __name__ == "__main__":
    main()
