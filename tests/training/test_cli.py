"""`facesearch train`'s options default to the training recipe (TrainConfig), written once."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
from training import cli  # noqa: E402
from training.config import GENDER_OUT, TrainConfig  # noqa: E402


def test_option_defaults_are_the_recipes():
    defaults = {p.name: p.default for p in cli.train.params}
    for name in ("batch_size", "lr", "optimizer", "margin", "scale", "margin_kind", "patience", "seed"):
        assert defaults[name] == getattr(TrainConfig, name), name
    help_text = CliRunner().invoke(cli.train, ["--help"]).output
    assert f"[default: {TrainConfig.out}; gender: {GENDER_OUT}]" in " ".join(help_text.split())


@pytest.mark.parametrize("given, used", [([], GENDER_OUT), (["--out", TrainConfig.out], TrainConfig.out)])
def test_gender_task_keeps_an_out_given_as_the_identity_default(tmp_path, monkeypatch, given, used):
    """--out runs/train given by hand is where the gender head goes (it was read as 'not given')."""
    import training.gender

    seen = {}

    def train_gender(train_dir, val_dir, out, *args):
        seen["out"] = out
        best = {"kind": "logistic", "param": 1.0, "threshold": 0.5, "cv_balanced_accuracy": 0.9}
        return {"selection": {"best": best, "folds": 3}, "train_errors": []}

    monkeypatch.setattr(training.gender, "train_gender", train_gender)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    r = CliRunner().invoke(cli.train, ["--task", "gender", "data", *given])
    assert r.exit_code == 0, r.output
    assert seen["out"].resolve() == (tmp_path / used).resolve()
