"""A cold `facesearch query` imports nothing heavy it does not use: no PyTorch (the shipped
models are ONNX graphs), no matplotlib, scikit-learn, FastAPI or OpenCV."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from facesearch.cli import main
from tests.conftest import person_image

REPO = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "torchvision", "timm", "facenet_pytorch", "matplotlib", "sklearn", "scipy", "fastapi",
         "uvicorn", "cv2", "onnx", "training"]


def test_query_path_imports_nothing_heavy(tmp_path):
    gallery = tmp_path / "gallery"
    for i, name in enumerate(["ann", "ben"]):
        (gallery / name).mkdir(parents=True)
        person_image(i, size=160).save(gallery / name / "1.png")
    db = tmp_path / "g.db"
    r = CliRunner().invoke(main, ["index", str(gallery), "--db", str(db)])
    assert r.exit_code == 0, r.output
    code = ("import sys, json\nfrom facesearch.cli import main\n"
            f"try:\n    main(['query', {str(gallery / 'ann' / '1.png')!r}, '--db', {str(db)!r}, '--json'])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if k != "FACESEARCH_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])})
    assert out.returncode == 0, out.stderr
    assert '"ann"' in out.stdout
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
