"""A real `facesearch serve` (uvicorn) on a free localhost port, over a gallery enrolled
with the fake encoder (or the shipped model, for tests with FACECOM photos)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import person_image

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "facesearch.cli"]
PEOPLE = ["alice", "bob", "carol"]


def env(**extra) -> dict:
    """Subprocess environment: the fake encoder registered, PyTorch runtime (no exports)."""
    return {**os.environ, "FACESEARCH_PLUGINS": "tests.fake_encoder", "PYTHONPATH": str(REPO),
            "FACESEARCH_RUNTIME": "torch", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`facesearch serve` in a subprocess; ``url`` once it answers."""

    def __init__(self, db: Path, *args: str, environ: dict | None = None, log: Path | None = None,
                 timeout: float = 120):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or db.with_name(f"server-{self.port}.log")
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen([*CLI, "serve", "--db", str(db), "--port", str(self.port), *args],
                                     env=environ or env(), stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.output()}")
            try:
                if requests.get(self.url + "/openapi.json", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start in {timeout} s:\n{self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


def make_gallery(root: Path, people=PEOPLE) -> Path:
    for i, name in enumerate(people):
        (root / name).mkdir(parents=True, exist_ok=True)
        person_image(i).save(root / name / f"{name}_1.png")
        person_image(i, noise=6, rng_seed=1).save(root / name / f"{name}_2.png")
    return root


def index(gallery: Path, db: Path, *extra: str, environ: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "index", str(gallery), "--db", str(db), "--model", "fake", "--detector", "none",
                           *extra], env=environ or env(), capture_output=True, text=True, check=True)


def serve_gallery(tmp: Path, *args: str, environ: dict | None = None) -> Server:
    """A server over alice, bob and carol (two photos each) in ``tmp``, with ``args``."""
    db = tmp / "fs.db"
    index(make_gallery(tmp / "gallery"), db)
    return Server(db, *args, environ=environ)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server over alice, bob and carol (two photos each), no token; yields (server, folder)."""
    tmp = tmp_path_factory.mktemp("served")
    server = serve_gallery(tmp)
    yield server, tmp
    server.stop()


def query_photo(tmp: Path, seed: int, noise: float = 8, rng_seed: int = 7) -> Path:
    """A 'new' photo of person ``seed`` (another noisy version), as a file."""
    path = tmp / f"q{seed}_{rng_seed}.png"
    person_image(seed, noise=noise, rng_seed=rng_seed).save(path)
    return path
