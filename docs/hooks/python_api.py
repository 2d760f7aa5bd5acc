"""mkdocs hook: ``<!-- python-api: module.Class -->`` in a page becomes the reference of that
class's public methods and properties, read from the code (signatures and the first
paragraph of each docstring), so the Python API page follows the code."""
from __future__ import annotations

import importlib
import inspect
import re

MARKER = re.compile(r"^<!-- python-api: ([\w.]+) -->$", re.M)


def summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")


def signature(func) -> str:
    """``(a: int, b: str = 'x') -> T``, annotations written as in the code (not quoted)."""
    def ann(a):
        return a if isinstance(a, str) else inspect.formatannotation(a)
    sig = inspect.signature(func)
    params = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        text = p.name + (f": {ann(p.annotation)}" if p.annotation is not p.empty else "")
        params.append(text + (f" = {p.default!r}" if p.default is not p.empty else ""))
    ret = f" -> {ann(sig.return_annotation)}" if sig.return_annotation is not sig.empty else ""
    return re.sub(r"\s+", " ", f"({', '.join(params)}){ret}")  # pipes in a code span do not split a cell


def reference(path: str) -> str:
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    rows = ["| member | what |", "|---|---|"]
    members = {}  # the class's own and those of the parts it is made of (Gallery: People, Thresholds)
    for part in reversed([c for c in cls.__mro__ if c.__module__.split(".")[0] == cls.__module__.split(".")[0]]):
        members.update(vars(part))
    for attr, static in sorted(members.items()):
        if attr.startswith("_"):
            continue
        if isinstance(static, property):
            rows.append(f"| `{attr}` (property) | {summary(static)} |")
        elif isinstance(static, (classmethod, staticmethod)) or inspect.isfunction(static):
            func = getattr(cls, attr)
            rows.append(f"| `{attr}{signature(func)}` | {summary(func)} |")
    return f"`{path}`: {summary(cls)}\n\n" + "\n".join(rows)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    return MARKER.sub(lambda m: reference(m.group(1)), markdown)
