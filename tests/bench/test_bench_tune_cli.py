"""``uniscale tune TABLE``: Router.tune on a table's train split, printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from uniscale.cli import main


def test_tune_prints_candidates_the_choice_and_the_best_single_arm(
        toy_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tune", str(toy_path), "--wtp", "0.05", "--folds", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "eval set =" in out and "tuned on" in out
    lines = [line for line in out.splitlines() if "reward" in line]
    assert sum(line.lstrip().startswith("*") for line in lines) == 1
    assert len(lines) == 18 + 1  # 3 alphas x 2 hybrid x 3 widths, and the best single arm
    assert "best single arm" in out


def test_tune_refuses_a_missing_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "no_such_table"]) == 2
    assert "uniscale: error:" in capsys.readouterr().err
