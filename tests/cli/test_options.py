"""Options shared by the commands (facesearch/cli/options.py)."""
import pytest
from click.testing import CliRunner

from facesearch.cli import main

# every float option of the CLI, with arguments that would otherwise get the command going
FLOAT_OPTIONS = [
    (["query", "photo.jpg"], "--threshold"),
    (["watch", "clip.mp4"], "--threshold"),
    (["calibrate", "."], "--target-far"),
    (["calibrate", "."], "--target-fpir"),
    (["classifier", "fit"], "--c"),
    (["serve"], "--max-upload-mb"),
    (["train", "."], "--lr"),
    (["train", "."], "--margin"),
    (["train", "."], "--scale"),
    (["train", "."], "--pair-weight"),
    (["train", "."], "--holdout"),
]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("command,option", FLOAT_OPTIONS)
def test_no_float_option_takes_nan_or_inf(tmp_path, monkeypatch, command, option, value):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, [*command, option, value])
    assert r.exit_code == 2 and f"must be a finite number, not {value}" in r.output, r.output


def test_finite_floats_keep_their_bounds_and_help():
    r = CliRunner().invoke(main, ["calibrate", ".", "--target-far", "0"])
    assert r.exit_code == 2 and "0<x<=1" in r.output
    r = CliRunner().invoke(main, ["watch", "--help"])
    assert "--threshold FLOAT" in r.output and "None" not in r.output
