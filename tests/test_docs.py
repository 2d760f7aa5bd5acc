"""The documentation site: it builds with `mkdocs build --strict` (no broken link, no missing
result), every benchmark result it shows is a data file with the command that made it, and
every `facesearch ...` command it shows names commands and options that exist."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO / "benchmarks"))
from results import parse_markdown, record  # noqa: E402  (benchmarks/results.py)

MARKER = re.compile(r"^<!-- results: ([\w-]+) -->$", re.M)


def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[dev]' installs the docs tools)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    rest = (tmp_path / "site" / "rest" / "index.html").read_text()
    assert "image_a" in rest and "/v1/people/{identity}" in rest  # rendered from the OpenAPI document
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "facesearch eval" in cli and "--include-distorted" in cli  # generated from the click commands
    api = (tmp_path / "site" / "python-api" / "index.html").read_text()
    assert "remove_photo" in api and "set_threshold" in api  # members of the parts Gallery is made of


def test_every_result_shown_is_a_data_file_with_its_command():
    shown = {m for page in DOCS.glob("*.md") for m in MARKER.findall(page.read_text())}
    files = {p.stem: json.loads(p.read_text()) for p in (DOCS / "results").glob("*.json")}
    assert shown - set(files) == set(), "pages show results that have no file"
    assert set(files) - shown == set(), "result files that no page shows"
    for name, doc in files.items():
        assert doc["command"] and doc["blocks"], name
        assert doc.get("measured") or doc.get("transcribed"), f"{name}: when, or from where"
        assert any("columns" in b for b in doc["blocks"]), f"{name} holds no table"


def test_benchmark_output_is_parsed_into_tables_notes_and_data():
    text = ("# Title\n\nsome words\n\n## 1M\n| a | b |\n|---|---|\n| 1 | 2 |\n(a note)\n| 3 | 4 |\n\n"
            "```\npython x.py\n```\n\n```\n{\"k\": 1}\n```\n")
    assert parse_markdown(text) == [
        {"heading": "Title", "level": 1}, {"text": "some words"}, {"heading": "1M", "level": 2},
        {"columns": ["a", "b"], "rows": [["1", "2"], ["3", "4"]], "notes": ["a note"]},
        {"code": "python x.py"}, {"data": {"k": 1}}]


def test_record_saves_what_a_benchmark_printed(tmp_path, monkeypatch):
    import results
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    bench = tmp_path / "bench.py"
    bench.write_text('print("# Speed\\n\\n| pipeline | photos/s |\\n|---|---|\\n| batch 64 | 77.6 |")\n')
    path = record("speed", [sys.executable, str(bench)])
    doc = json.loads(path.read_text())
    assert doc["title"] == "Speed" and doc["command"].endswith("bench.py") and doc["measured"]
    assert doc["blocks"] == [{"columns": ["pipeline", "photos/s"], "rows": [["batch 64", "77.6"]]}]


def documented_commands():
    """Every ``facesearch ...`` line in a fenced block of README.md and docs/*.md, as argv."""
    import shlex

    for page in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", page.read_text(), flags=re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"\s+#\s.*$", "", line.strip())
                for part in line.split(" | "):
                    part = part.strip()
                    if part.startswith(("people ", "reindex")):  # `facesearch check | reindex` style
                        part = "facesearch " + part
                    if part.startswith("facesearch "):
                        yield page.name, shlex.split(part)[1:]


def test_documented_commands_and_options_exist():
    import click

    from facesearch.cli import main
    wrong = []
    for page, argv in documented_commands():
        command, args = main, list(argv)
        while isinstance(command, click.Group) and args and command.get_command(click.Context(command), args[0]):
            command = command.get_command(click.Context(command), args.pop(0))  # plugged-in ones too (train)
        if isinstance(command, click.Group) and args and not args[0].startswith("-"):
            wrong.append((page, argv, f"no command {args[0]!r}"))
            continue
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        wrong += [(page, argv, a) for a in args if a.startswith("-") and a.split("=")[0] not in known]
    assert not wrong
