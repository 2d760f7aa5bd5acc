"""mkdocs hook: ``<!-- results: NAME -->`` in a page becomes the benchmark result
``docs/results/NAME.json`` (written by ``benchmarks/results.py``), rendered: its title, the
command that produced it, when, and its tables. A name without a file fails the build."""
from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"
MARKER = re.compile(r"^<!-- results: ([\w-]+) -->$", re.M)


def table(columns: list[str], rows: list[list[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(columns), "|" + "---|" * len(columns), *(line(r) for r in rows)])


def render(name: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"<!-- results: {name} -->: no {path}")
    doc = json.loads(path.read_text())
    when = (f"transcribed {doc['transcribed']}" if doc.get("transcribed")
            else f"measured {doc.get('measured') or '(date not recorded)'}")
    out = []
    if doc.get("title"):
        out.append(f"**{doc['title']}**")
    out.append(f"```\n{doc['command']}\n```" if doc.get("command") else "(command not recorded)")
    for block in doc["blocks"]:
        if "columns" in block:
            out.append(table(block["columns"], block["rows"]))
            out += [f"({n})" for n in block.get("notes", [])]
        elif "heading" in block:
            out.append(f"*{block['heading']}*")
        elif "text" in block:
            out.append(block["text"])
        elif "code" in block and block["code"].strip() != (doc.get("command") or "").strip():  # shown above
            out.append(f"```\n{block['code']}\n```")
        elif "data" in block:
            body = json.dumps(block["data"], indent=1)
            out.append('??? note "raw figures (JSON)"\n\n' + "\n".join("    " + l for l in
                                                                    f"```json\n{body}\n```".splitlines()))
    out.append(f"<small>Data: `docs/results/{name}.json`, {when}.</small>")
    return "\n\n".join(out)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    return MARKER.sub(lambda m: render(m.group(1)), markdown)
