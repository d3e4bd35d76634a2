"""The ``uniscale`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uniscale.cli import main


def test_bench_writes_json_and_plot(toy_path: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "out.json", tmp_path / "frontier.png"
    code = main(["bench", str(toy_path), "--wtp", "0.01", "--seeds", "2", "--json", str(out),
                 "--plot", str(png), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["table"] == "toy" and data["seeds"] == [0, 1]
    assert data["objective"]["willingness_to_pay"] == 0.01
    assert set(data["policies"]) == {"uniscale", "routing-only", "tts-only", "best-fixed",
                                     "random", "oracle"}
    assert data["gap_closed"]["oracle"] == 1.0
    assert png.stat().st_size > 1000
    text = capsys.readouterr().out
    assert "uniscale" in text and "gap" in text


def test_bench_sweep_resolves_a_bare_name(toy_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    code = main(["bench", "toy", "--data-dir", str(toy_path.parent), "--sweep", "--seeds", "1",
                 "--sweep-wtp", "0.001,0.01,0.1", "--policies", "uniscale,routing-only",
                 "--json", str(out), "--plot", str(tmp_path / "s.png"), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert [p["wtp"] for p in data["sweep"]["frontier"]["uniscale"]] == [0.001, 0.01, 0.1]
    assert data["sweep"]["hull"]


def test_bench_budget_and_scenario(toy_path: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    code = main(["bench", str(toy_path), "--budget", "0.0005", "--seeds", "1", "--scenario",
                 "budget-shift", "--json", str(out), "--plot", str(tmp_path / "t.png"),
                 "--policies", "uniscale", "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["objective"] == {"kind": "budget", "per_request": 0.0005}
    assert data["scenario"]["phases"][1]["label"] == "budget B/2"
    assert "budget" in capsys.readouterr().out


def test_bench_reports_a_missing_table(tmp_path: Path) -> None:
    assert main(["bench", "nowhere", "--data-dir", str(tmp_path), "--quiet"]) == 2


def test_demo_runs_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png, out = tmp_path / "demo.png", tmp_path / "demo.json"
    code = main(["demo", "--small", "--limit", "60", "--out", str(png), "--json", str(out),
                 "--quiet"])
    assert code == 0
    assert png.stat().st_size > 1000
    data = json.loads(out.read_text())
    assert set(data) == {"gsm8k_verifier", "faithful_cot"}
    assert "oracle" in capsys.readouterr().out
