"""mkdocs hook: ``<!-- cli-reference -->`` in a page becomes the reference of every
``facesearch`` command: the command tree walked from the click group, each command's own
``--help`` text under the name it is called by (``eval``, not its function's name), so the
reference never drifts from the code."""
from __future__ import annotations

import click

MARKER = "<!-- cli-reference -->"
WIDTH = 100


def section(command: click.Command, path: list[str], parent: click.Context | None, level: int) -> list[str]:
    ctx = click.Context(command, info_name=path[-1], parent=parent, max_content_width=WIDTH, terminal_width=WIDTH)
    name = " ".join(path)
    out = [f"{'#' * level} `{name}`", "", command.get_short_help_str(limit=200).replace("<", "&lt;"), "",
           "```text", command.get_help(ctx), "```", ""]
    if isinstance(command, click.Group):
        for sub in sorted(command.commands):
            out += section(command.commands[sub], [*path, sub], ctx, min(level + 1, 4))
    return out


def reference() -> str:
    from facesearch.cli import main

    root = click.Context(main, info_name="facesearch", max_content_width=WIDTH, terminal_width=WIDTH)
    out = ["```text", main.get_help(root), "```", ""]
    for name in sorted(main.commands):
        out += section(main.commands[name], ["facesearch", name], root, 2)
    return "\n".join(out)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    return markdown.replace(MARKER, reference()) if MARKER in markdown else markdown
