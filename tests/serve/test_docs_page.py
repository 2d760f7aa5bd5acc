"""The API's documentation: /docs and /redoc work offline (their assets are served by the
server itself, no CDN), and the OpenAPI document describes every field a client sends."""
from __future__ import annotations

import re

import pytest
import requests

from facesearch import Gallery
from facesearch.serve import create_app


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict:
    """The OpenAPI document of an app over an empty gallery (built in process: no server)."""
    db = tmp_path_factory.mktemp("spec") / "fs.db"
    gallery = Gallery.open(str(db), create=True, model="fake", detector="none")
    return create_app(gallery, warm=False).openapi()


def request_fields(spec: dict):
    """(route, field, its schema) for every parameter and request-body property."""
    schemas = spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            route = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                yield route, p["name"], p
            for content in op.get("requestBody", {}).get("content", {}).values():
                body = schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]
                for name, field in body["properties"].items():
                    yield route, name, field


def test_every_field_a_client_sends_is_described(spec):
    fields = list(request_fields(spec))
    named = {(route, name) for route, name, _ in fields}
    assert {("POST /v1/compare", "image_a"), ("POST /v1/compare", "image_b"),
            ("PATCH /v1/people/{identity}", "name")} <= named
    undocumented = [(route, name) for route, name, field in fields if not field.get("description")]
    assert not undocumented


@pytest.mark.slow
def test_docs_pages_load_nothing_from_outside(served):
    server, _ = served
    for page in ("/docs", "/redoc"):
        r = requests.get(server.url + page, timeout=30)
        assert r.status_code == 200
        assert not re.findall(r"https?://", r.text), f"{page} refers to another host"
        assets = re.findall(r"""(?:src|href)=["']?(/[^"' >]+)""", r.text) + re.findall(r"url: *'(/[^']+)'", r.text)
        assert any(a.endswith(".js") for a in assets), r.text
        for asset in assets:
            got = requests.get(server.url + asset, timeout=30)
            assert got.status_code == 200 and got.content, asset
