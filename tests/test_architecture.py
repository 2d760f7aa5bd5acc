"""The floor plan, as tests: layers import only downwards, files stay small, the layout
table of docs/architecture.md names what is on disk, and the checkout's cli.py runs."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "facesearch"

# Lower layers never import higher ones; packages of one layer do not import each other.
LAYERS = {
    "facesearch.types": 0, "facesearch.config": 0, "facesearch.errors": 0, "facesearch.files": 0,
    "facesearch.runtime": 1, "facesearch.photos": 1,
    "facesearch.faces": 2, "facesearch.encoders": 2, "facesearch.attributes": 2,
    "facesearch.gallery": 3,
    "facesearch.evaluation": 4,
    "facesearch.video": 4,
    "training": 5,
    "facesearch.serve": 6,
    "facesearch.cli": 7,  # `facesearch serve` starts the server
    "training.cli": 8,  # `facesearch train`, plugged into the CLI by an entry point (facesearch never imports it)
    "facesearch.training": 8,  # `python -m facesearch.training` (torchrun's entry) runs the train command
}


def unit(module: str) -> str | None:
    """The layered unit a dotted module belongs to (its package, or the loose module)."""
    for name in sorted(LAYERS, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """Absolute names of everything ``path`` imports, at any depth (lazy imports too)."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield name
            yield from (f"{name}.{a.name}" for a in node.names)  # `from . import x`


def sources():
    return sorted(p for root in (PACKAGE, REPO / "training") for p in root.rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_imports_from_a_layer_above(path):
    me = unit(module_name(path))
    if me is None:  # facesearch/__init__.py: the public, lazy re-export of Gallery
        return
    for name in imports(path):
        other = unit(name)
        if other is None or other == me:
            continue
        assert LAYERS[other] < LAYERS[me], f"{module_name(path)} ({me}) imports {name} ({other})"


def test_floor_plan():
    loose = [p for p in PACKAGE.glob("*.py")]
    subpackages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert len(loose) <= 6, loose
    assert len(subpackages) >= 4, subpackages
    for name in ("facesearch", "cli.py", "migrations", "training", "tests", "pyproject.toml", "README.md"):
        assert (REPO / name).exists(), name


def test_no_source_file_over_400_lines():
    roots = [PACKAGE, REPO / "training", REPO / "migrations", REPO / "tests", REPO / "benchmarks"]
    long = {str(p.relative_to(REPO)): n for root in roots for p in root.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def test_layout_table_matches_the_tree():
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text[text.index("## Layout"):]
    table = table[:table.index("\n## ")]
    named = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.M))
    for name in named:
        assert (REPO / name).exists(), f"docs/architecture.md names {name}, which does not exist"
    on_disk = {f"facesearch/{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    on_disk |= {f"facesearch/{p.name}" for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert on_disk <= named, f"missing from the layout table of docs/architecture.md: {sorted(on_disk - named)}"


def test_checkout_cli_runs():
    r = subprocess.run([sys.executable, "cli.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "facesearch index" in r.stdout


def test_facesearch_never_imports_training():
    """training plugs into facesearch (the `facesearch.commands` entry point), never the reverse."""
    for path in PACKAGE.rglob("*.py"):
        assert not [n for n in imports(path) if n == "training" or n.startswith("training.")], path


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages a plain `pip install` ships (the editable install the
    tests use finds every folder, so a package missing from the list only fails for users)."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "facesearch").rglob("__init__.py")}
    found |= {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "training").rglob("__init__.py")}
    assert found - listed == set()
