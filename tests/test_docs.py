"""The documentation site: it builds with `mkdocs build --strict` (no broken link, no missing
result), and every benchmark result it shows is a data file with the command that made it."""
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
    for module in ("mkdocs", "material", "mkdocs_click"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[dev]' installs the docs tools)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    rest = (tmp_path / "site" / "rest" / "index.html").read_text()
    assert "image_a" in rest and "/v1/people/{identity}" in rest  # rendered from the OpenAPI document
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "facesearch index" in cli and "--include-distorted" in cli  # generated from the click commands


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
