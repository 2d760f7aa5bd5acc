"""Benchmark results as data: ``docs/results/<name>.json``, rendered by the docs site
(``docs/hooks/results_tables.py``), so that no figure in the documentation is typed by hand.

A result file holds what the benchmark printed, parsed: the command that produced it, when,
and a list of blocks (``{"heading"}``, ``{"text"}``, ``{"code"}``, ``{"columns", "rows"}``
for a table, ``{"data"}`` for a JSON object). Benchmarks print Markdown tables; any of them
is recorded by running it through this script::

    python benchmarks/results.py record embed -- python benchmarks/bench_embed.py ../shared/data/facecom/val --n 512

Figures measured before this existed were transcribed once from README.md / the
``benchmarks/results_*.md`` files (``"transcribed"`` says from where).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def parse_markdown(text: str) -> list[dict]:
    """Blocks of a benchmark's Markdown output: headings, tables, fenced code, prose."""
    blocks: list[dict] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            body = "\n".join(lines[i + 1:end])
            try:
                blocks.append({"data": json.loads(body)})
            except ValueError:
                blocks += _plain_tables(body) or [{"code": body}]
            i = end + 1
        elif line.startswith("#"):
            level, _, title = line.partition(" ")
            blocks.append({"heading": title.strip(), "level": len(level)})
            i += 1
        elif line.startswith("|") and i + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1]):
            table = {"columns": _cells(line), "rows": []}
            i += 2
            while i < len(lines) and (lines[i].startswith("|") or re.fullmatch(r"\(.*\)", lines[i])):
                if lines[i].startswith("|"):
                    table["rows"].append(_cells(lines[i]))
                else:  # a note printed between rows: "(sq8: built and measured in 534 s)"
                    table.setdefault("notes", []).append(lines[i][1:-1])
                i += 1
            blocks.append(table)
        elif not line.strip():
            i += 1
        else:
            start = i
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "```", "|")):
                i += 1
            blocks.append({"text": "\n".join(lines[start:i])})
    return blocks


def _plain_tables(body: str) -> list[dict] | None:
    """Tables printed as plain text: ``name: col | col ...`` then rows indented by two spaces
    (``quality_limits.py``); other lines are text. None when there is no such table."""
    blocks: list[dict] = []
    for chunk in re.split(r"\n\s*\n", body.strip()):
        lines = chunk.splitlines()
        head = re.fullmatch(r"(\w[\w ]*): (.+\|.+)", lines[0])
        if head and len(lines) > 1 and all(l.startswith("  ") and "|" in l for l in lines[1:]):
            blocks.append({"heading": head[1], "level": 3})
            blocks.append({"columns": _cells(head[2]), "rows": [_cells(l) for l in lines[1:]]})
        else:
            blocks.append({"text": chunk})
    return blocks if any("columns" in b for b in blocks) else None


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def write(name: str, blocks: list[dict], command: str, title: str | None = None, **extra) -> Path:
    """Save ``blocks`` as ``docs/results/<name>.json`` (``extra``: more top-level keys)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"title": title, "command": command, "measured": dt.date.today().isoformat(), **extra, "blocks": blocks}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return path


def record(name: str, argv: list[str], title: str | None = None) -> Path:
    """Run a benchmark, passing its output through, and save what it printed as a result file."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1)
    out = []
    for line in proc.stdout:
        sys.stdout.write(line)
        out.append(line)
    if proc.wait():
        raise SystemExit(f"{argv[0]} exited with {proc.returncode}: nothing saved")
    blocks, title = _titled(parse_markdown("".join(out)), title)
    return write(name, blocks, " ".join(shlex.quote(a) for a in argv), title)


def _titled(blocks: list[dict], title: str | None) -> tuple[list[dict], str | None]:
    """The output's first heading becomes the result's title (unless one is given)."""
    if blocks and "heading" in blocks[0]:
        heading = blocks.pop(0)["heading"]
        title = title or heading
    return blocks, title


def convert(markdown: Path, name: str, command: str | None = None, title: str | None = None) -> Path:
    """Transcribe an existing ``results_*.md`` file once (its figures were measured before)."""
    blocks = parse_markdown(markdown.read_text())
    blocks, title = _titled(blocks, title)
    if command is None:
        code = next((b["code"] for b in blocks if "code" in b and b["code"].startswith("python ")), None)
        text = next((b["text"] for b in blocks if "text" in b and "`python " in b["text"]), "")
        command = code or (re.search(r"`(python [^`]+)`", text) or [None, None])[1]
    return write(name, blocks, command, title, measured=None,
                 transcribed=f"once from {markdown.relative_to(RESULTS.parents[1])} (figures measured before "
                             "results were kept as data; the command is the one that printed them)")


def main() -> None:
    ap = argparse.ArgumentParser(description="benchmark results as data under docs/results/")
    sub = ap.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record", help="run a benchmark and save its printed tables as docs/results/NAME.json")
    rec.add_argument("name")
    rec.add_argument("--title", default=None)
    rec.add_argument("argv", nargs=argparse.REMAINDER, help="-- python benchmarks/<benchmark>.py ...")
    tr = sub.add_parser("transcribe", help="transcribe a results_*.md file once into docs/results/NAME.json")
    tr.add_argument("markdown", type=Path)
    tr.add_argument("name")
    tr.add_argument("--command", default=None)
    tr.add_argument("--title", default=None)
    a = ap.parse_args()
    if a.action == "record":
        argv = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
        print(f"saved {record(a.name, argv, a.title)}")
    else:
        print(convert(a.markdown.resolve(), a.name, a.command, a.title))


if __name__ == "__main__":
    main()
