"""The out-of-the-box decision, measured through the CLI as a new user runs it: the shipped
calibration, no `calibrate`.

    python benchmarks/decision_cli.py ../shared/data/facecom/val [--model fused] \\
        [--train ../shared/data/facecom/train] [--gender ../shared/data/facecom_gender] \\
        [--before old_calibration.json] [--json-out counts.json]

Open set, per data set: the clean photos of every other identity (name order) are enrolled
with `facesearch index --model M`, the distorted photos of all are queried with `facesearch
query --json`; reported: strangers accepted as someone, enrolled people named wrongly and
rightly. Val: every distorted photo, and (from the same answers) at most 14 per person.
Train: only the check third of ``training/ship_calibration.py`` (neither the cohort nor any
threshold nor the target was chosen on it), every one of its people, at most
``--per-identity`` distorted photos each (one of them has 1,652), run twice: every other
person enrolled, then the others, so each is a stranger once.
One-person galleries: ``--one-person`` people of val (half women, half men), each enrolled
alone, queried with the distorted photos of up to ``--per-gallery`` other people of the same
sex; reported: the share accepted.

``--before FILE``: the same answers decided again by that calibration file's rules for the
model (another target, same cohort: each face's cohort mean is read back from the answer's
``threshold``), so a change of the shipped rule is shown before/after from one run.
Prints Markdown (record it: ``python benchmarks/results.py record NAME -- python
benchmarks/decision_cli.py ...``); ``--json-out`` also writes every count.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from training.open_set import PER_IDENTITY
from training.ship_calibration import identity_genders, split_identities

NOW = "shipped"


def cli(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "facesearch.cli", *map(str, args)], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"facesearch {' '.join(map(str, args[:3]))} ... failed:\n{out.stderr[-2000:]}")
    return out.stdout


def distorted(person: Path, cap: int | None = None) -> list[Path]:
    return sorted((person / "distortion").glob("*.jpg"))[:cap]


class Rules:
    """Decides a `query --json` answer again by the rules of another calibration file of the
    same model and cohort (shift normalisation: cosine floor = cohort mean + floor x scale)."""

    def __init__(self, now: dict, before: dict):
        if now["cohort"] != before["cohort"] or now["cohort"].get("scale") is None:
            sys.exit("--before needs a calibration with the same shift-normalised cohort")
        self.scale = now["cohort"]["scale"]
        self.now, self.before = (sorted(e["identification"]["rules"], key=lambda r: r["gallery_size"])
                                 for e in (now, before))

    @staticmethod
    def _rule(rules: list[dict], size: int) -> dict:
        return next((r for r in rules if r["gallery_size"] >= size), rules[-1])

    def accepted(self, r: dict, size: int) -> bool:
        if r["reason"] == "unusable face" or not r["matches"]:
            return False
        now, old = self._rule(self.now, size), self._rule(self.before, size)
        mean = r["threshold"] - now["floor"] * self.scale
        best = r["matches"][0]["score"]
        if best < mean + old["floor"] * self.scale - 1e-6:  # answers are rounded to 6 decimals
            return False
        return (old["margin"] is None or len(r["matches"]) < 2
                or best - r["matches"][1]["score"] >= old["margin"] * self.scale - 1e-6)


def enrol(people: list[Path], work: Path, name: str, model: str) -> Path:
    """A database of these people's clean photos (a folder of links to their folders)."""
    folder = work / name
    folder.mkdir()
    for p in people:
        (folder / p.name).symlink_to(p.resolve(), target_is_directory=True)
    db = work / f"{name}.db"
    cli("index", folder, "--db", db, "--model", model)
    return db


def query(db: Path, photos: list[Path]) -> list[dict]:
    lines = cli("query", *photos, "--db", db, "--json", "--k", "2").splitlines()
    return [r for r in map(json.loads, lines) if "error" not in r]


def decisions(results: list[dict], size: int, before: Rules | None) -> dict[str, list]:
    """Per calibration (the CLI's own answer; and ``before``): the name each query got (None: UNKNOWN)."""
    named = lambda r, ok: r["matches"][0]["identity"] if ok else None  # noqa: E731
    out = {NOW: [named(r, r["accepted"]) for r in results]}
    if before is not None:
        out["before"] = [named(r, before.accepted(r, size)) for r in results]
    return out


def open_set(people: list[Path], work: Path, name: str, model: str, before: Rules | None,
             halves: tuple[int, ...] = (0,), cap: int | None = None, capped: int | None = None) -> dict:
    """Counts per calibration; ``halves``: which alternate halves are enrolled in turn;
    ``capped``: also the counts of at most that many photos per person (from the same answers)."""
    keep = {str(p) for person in people for p in distorted(person, capped)}
    counts: dict = {}
    sources: dict = {}
    for half in halves:
        enrolled = people[half::2]
        db = enrol(enrolled, work, f"{name}-{half}", model)
        truth = {str(p): person.name for person in people for p in distorted(person, cap)}
        known = {p.name for p in enrolled}
        results = query(db, [Path(p) for p in truth])
        for r in results:
            sources[r["calibration"]] = sources.get(r["calibration"], 0) + 1
        for cal, names in decisions(results, len(enrolled), before).items():
            for subset in ("all", "capped") if capped else ("all",):
                c = counts.setdefault((cal, subset), {"strangers": [0, 0], "right": [0, 0], "wrong": [0, 0]})
                for r, got in zip(results, names):
                    if subset == "capped" and r["query"] not in keep:
                        continue
                    who = truth[r["query"]]
                    if who in known:
                        for k, hit in (("right", got == who), ("wrong", got is not None and got != who)):
                            c[k][0] += hit
                            c[k][1] += 1
                    else:
                        c["strangers"][0] += got is not None
                        c["strangers"][1] += 1
    return {"enrolled": (len(people) + 1) // 2, "identities": len(people), "halves": len(halves), "decided_by": sources,
            "counts": {f"{cal} {subset}": {k: {"rate": a / n if n else None, "accepted": a, "queries": n}
                                           for k, (a, n) in c.items()} for (cal, subset), c in counts.items()}}


def one_person(people: list[Path], sexes: dict, work: Path, galleries: int, per_gallery: int, seed: int,
               model: str, before: Rules | None) -> dict:
    rng = random.Random(seed)
    out: dict = {}
    for sex in ("female", "male"):
        same = [p for p in people if sexes.get(p.name) == sex]
        for i, person in enumerate(rng.sample(same, min(galleries // 2, len(same)))):
            db = enrol([person], work, f"one-{sex}-{i}", model)
            others = rng.sample([p for p in same if p != person], min(per_gallery, len(same) - 1))
            results = query(db, [rng.choice(distorted(p)) for p in others if distorted(p)])
            for cal, names in decisions(results, 1, before).items():
                c = out.setdefault(cal, {}).setdefault(sex, [0, 0])
                c[0] += sum(n is not None for n in names)
                c[1] += len(names)
    return {cal: {sex: {"rate": a / n if n else None, "accepted": a, "queries": n} for sex, (a, n) in by.items()}
            for cal, by in out.items()}


def pct(r: dict) -> str:
    return "-" if r["rate"] is None else f"{100 * r['rate']:.2f}% ({r['accepted']}/{r['queries']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("val", type=Path)
    ap.add_argument("--model", default="default", help="encoder enrolled with (`index --model`)")
    ap.add_argument("--train", type=Path, default=None)
    ap.add_argument("--per-identity", type=int, default=PER_IDENTITY, help="distorted photos per train person")
    ap.add_argument("--gender", type=Path, default=None, help="facecom_gender: one-person galleries by sex")
    ap.add_argument("--one-person", type=int, default=12, help="one-person galleries (half of each sex)")
    ap.add_argument("--per-gallery", type=int, default=60, help="other people queried per one-person gallery")
    ap.add_argument("--seed", type=int, default=0, help="the train split of training/ship_calibration.py")
    ap.add_argument("--before", type=Path, default=None, help="another calibration file: its rules decide too")
    ap.add_argument("--json-out", type=Path, default=None, help="also write every count here (JSON)")
    a = ap.parse_args()
    before = None
    if a.before is not None:
        from facesearch.config import SHIPPED_CALIBRATION
        from facesearch.encoders import create_encoder

        checksum = create_encoder(a.model).card.checksum
        before = Rules(json.loads(SHIPPED_CALIBRATION.read_text())[checksum], json.loads(a.before.read_text())[checksum])
    report = {"model": a.model}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        val = sorted(p for p in a.val.iterdir() if p.is_dir())
        report["val"] = open_set(val, work, "val", a.model, before, capped=PER_IDENTITY)
        if a.train is not None:
            train = sorted(p for p in a.train.iterdir() if p.is_dir())
            check = set(split_identities([p.name for p in train], a.seed)[2])
            report["train check third"] = open_set([p for p in train if p.name in check], work, "train", a.model,
                                                   before, halves=(0, 1), cap=a.per_identity)
        if a.gender is not None:
            sexes = identity_genders(a.gender / "val", [p.name for p in val])
            report["one-person galleries (val)"] = one_person(val, sexes, work, a.one_person, a.per_gallery, a.seed,
                                                              a.model, before)
    if a.json_out is not None:
        a.json_out.write_text(json.dumps(report, indent=1))
    print(f"# Out of the box through the CLI (`--model {a.model}`): the shipped calibration, no `calibrate`\n")
    print("| data | rule | strangers accepted (goal <= 1%) | enrolled named wrongly (<= 0.5%) | rightly (>= 80%) |")
    print("|---|---|---|---|---|")
    labels = {"all": "", "capped": f", at most {PER_IDENTITY} photos per person"}
    for name in ("val", "train check third"):
        if name not in report:
            continue
        r = report[name]
        where = (f"{name} ({r['enrolled']} enrolled, {r['identities'] - r['enrolled']} strangers"
                 + (", then the other way round" if r["halves"] == 2 else "") + ")")
        for key, c in r["counts"].items():
            cal, subset = key.split()
            extra = labels[subset] if name == "val" else f", at most {a.per_identity} photos per person"
            print(f"| {where}{extra} | {cal} | {pct(c['strangers'])} | {pct(c['wrong'])} | {pct(c['right'])} |")
    if "one-person galleries (val)" in report:
        print("\n| one-person galleries of val: other people of the same sex accepted (goal <= 2%) | rule | women | men |")
        print("|---|---|---|---|")
        for cal, r in report["one-person galleries (val)"].items():
            print(f"| {a.one_person} galleries, up to {a.per_gallery} others each | {cal} | "
                  f"{' | '.join(pct(r.get(sex, {'rate': None})) for sex in ('female', 'male'))} |")
    decided: dict = {}
    for name in ("val", "train check third"):
        for k, v in report.get(name, {}).get("decided_by", {}).items():
            decided[k] = decided.get(k, 0) + v
    print(f"\nEvery answer of the open sets was decided by: {', '.join(f'{k} ({v})' for k, v in decided.items())}.")


if __name__ == "__main__":
    main()
