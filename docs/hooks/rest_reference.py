"""mkdocs hook: ``<!-- openapi -->`` in a page becomes the REST reference, rendered from the
OpenAPI document of the app ``facesearch serve`` runs (built in process over an empty
temporary gallery), so the reference names every route and field the server has."""
from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path

MARKER = "<!-- openapi -->"


@lru_cache(maxsize=1)
def spec() -> dict:
    from facesearch import Gallery
    from facesearch.serve import create_app

    with tempfile.TemporaryDirectory() as tmp:
        gallery = Gallery.open(str(Path(tmp) / "docs.db"), create=True)
        return create_app(gallery, warm=False).openapi()


def kind(schema: dict) -> str:
    """A field's type in words: string, integer, array of Match, file, ..."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(kind(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {kind(schema.get('items', {}))}"
    if schema.get("contentMediaType") == "application/octet-stream" or schema.get("format") == "binary":
        return "file"
    return schema.get("type", "any")


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def fields(schema: dict) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, f in schema.get("properties", {}).items():
        example = f" (e.g. `{json.dumps(f['examples'][0])}`)" if f.get("examples") else ""
        rows.append(f"| `{name}` | {kind(f)} | {'yes' if name in required else 'no'} "
                    f"| {cell(f.get('description', ''))}{example} |")
    return rows


def operation(path: str, method: str, op: dict, schemas: dict) -> list[str]:
    out = [f"### {method.upper()} `{path}`", "", cell(op.get("description") or op.get("summary", "")), ""]
    params = op.get("parameters", [])
    if params:
        out += ["| parameter | in | type | default | description |", "|---|---|---|---|---|"]
        for p in params:
            s = p.get("schema", {})
            default = f"`{json.dumps(s['default'])}`" if "default" in s else ("required" if p.get("required") else "")
            out.append(f"| `{p['name']}` | {p['in']} | {kind(s)} | {default} | {cell(p.get('description', ''))} |")
        out.append("")
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        ref = content["schema"]["$ref"].rsplit("/", 1)[1]
        body = schemas[ref]
        out += [f"Request body (`{media}`):", "", *fields(body), ""]
    out += ["| status | meaning | body |", "|---|---|---|"]
    for status, r in op.get("responses", {}).items():
        body = next(iter(r.get("content", {}).values()), {}).get("schema")
        out.append(f"| {status} | {cell(r.get('description', ''))} | {kind(body) if body else '(empty)'} |")
    return out + [""]


def reference() -> str:
    s = spec()
    schemas = s["components"]["schemas"]
    out = [cell(s["info"].get("description", "")), "", "## Routes", ""]
    for path, ops in s["paths"].items():
        for method, op in ops.items():
            out += operation(path, method, op, schemas)
    out += ["## Response and request shapes", ""]
    for name, schema in schemas.items():
        if name.startswith("Body_") or "properties" not in schema:
            continue
        out += [f"### {name}", "", cell(schema.get("description", "")), "", *fields(schema), ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    return markdown.replace(MARKER, reference()) if MARKER in markdown else markdown
