"""Without PyTorch (the base install), torch-only features answer with one line saying what
to install; everything the shipped models do still works."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from facesearch.cli import plugins
from tests.conftest import person_image

REPO = Path(__file__).resolve().parents[2]
INSTALL = "pip install 'facesearch[train]'"


def cli_without_torch(*args: str) -> subprocess.CompletedProcess:
    """`facesearch ARGS` in a process where `import torch` fails, as in the base install."""
    code = ("import sys\nfor m in ('torch', 'torchvision', 'timm', 'facenet_pytorch'):\n    sys.modules[m] = None\n"
            f"from facesearch.cli import main\nmain({list(args)!r}, prog_name='facesearch')")
    env = {k: v for k, v in os.environ.items() if k != "FACESEARCH_PLUGINS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])})


@pytest.mark.parametrize("args", [
    ["train", "GALLERY", "--epochs", "3"],
    ["index", "GALLERY", "--db", "DB", "--model", "mobilefacenet", "--weights", "w.pt"],
    ["index", "GALLERY", "--db", "DB", "--model", "timm:resnet18"],
])
def test_torch_only_features_say_what_to_install(tmp_path, args):
    gallery = tmp_path / "g"
    (gallery / "ann").mkdir(parents=True)
    person_image(0, size=112).save(gallery / "ann" / "1.png")
    args = [str(gallery) if a == "GALLERY" else str(tmp_path / "x.db") if a == "DB" else a for a in args]
    r = cli_without_torch(*args)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and INSTALL in lines[0], r.stderr


def test_shipped_models_work_without_torch(tmp_path):
    gallery = tmp_path / "g"
    for i, name in enumerate(["ann", "ben"]):
        (gallery / name).mkdir(parents=True)
        person_image(i, size=112).save(gallery / name / "1.png")
    db = str(tmp_path / "x.db")
    for args in (["index", str(gallery), "--db", db, "--detector", "none"],
                 ["query", str(gallery / "ann" / "1.png"), "--db", db]):
        r = cli_without_torch(*args)
        assert r.returncode == 0, r.stderr
    assert "ann" in r.stdout


def test_train_without_its_entry_point_says_what_to_install(monkeypatch):
    monkeypatch.setattr(plugins, "entry_points", lambda group: [])
    r = CliRunner().invoke(main, ["train", "x", "--epochs", "2"])
    assert r.exit_code == 1 and r.output.strip().startswith("error: `facesearch train` is not registered")
    monkeypatch.setattr(plugins, "find_spec", lambda name: None)  # no training package either
    r = CliRunner().invoke(main, ["train", "x", "--epochs", "2"])
    assert r.exit_code == 1 and r.output.strip() == f"error: `facesearch train` comes with the training package: {INSTALL}"
    assert "train" in CliRunner().invoke(main, ["--help"]).output
