"""mkdocs hook: docs/changelog.md shows CHANGELOG.md (top level, where a repository's
changelog is looked for). Its links point into docs/ from the top level, so on that page
they lose their ``docs/`` prefix."""
from __future__ import annotations

from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"
INCLUDE = '--8<-- "CHANGELOG.md"'


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if INCLUDE in markdown:
        return markdown.replace(INCLUDE, CHANGELOG.read_text().replace("](docs/", "]("))
    return markdown
