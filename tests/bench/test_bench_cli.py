"""The ``uniscale`` command: figures, flags and every error message."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from uniscale.cli import main

FAST = "uniscale,routing-only,tts-only,trained-router"


def test_bench_writes_json_and_plot(toy_path: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "out.json", tmp_path / "frontier.png"
    code = main(["bench", str(toy_path), "--wtp", "0.01", "--seeds", "2", "--json", str(out),
                 "--plot", str(png), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["table"] == "toy" and data["seeds"] == [0, 1]
    assert data["objective"]["willingness_to_pay"] == 0.01
    assert data["warm_start"] is False
    assert set(data["policies"]) == {"uniscale", "routing-only", "tts-only", "best-fixed",
                                     "best-fixed-hindsight", "trained-router", "paretobandit",
                                     "random", "oracle"}
    assert data["gap_closed"]["oracle"] == 1.0
    assert data["gap_closed_vs_trained_router"]["trained-router"] == pytest.approx(1.0) or \
        data["gap_closed_vs_trained_router"]["trained-router"] is None
    for name, fig in data["policies"].items():
        assert {"test_reward", "test_quality", "test_cost", "cost", "quality",
                "ci95"} <= set(fig)
        assert ("paired_diff" in fig) == (name != "uniscale")
    assert data["policies"]["oracle"]["paired_diff"]["vs"] == "uniscale"
    assert png.stat().st_size > 1000
    text = capsys.readouterr().out
    assert "uniscale" in text and "gap→oracle" in text and "best-fixed (train)" in text


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
    assert "budget_error" in data["policies"]["uniscale"]
    assert "budget" in capsys.readouterr().out


def test_progress_lines_when_not_a_terminal(toy_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(toy_path), "--wtp", "0.01", "--seeds", "1",
                 "--policies", "uniscale"]) == 0
    err = capsys.readouterr().err
    assert "replaying: 60/60 steps (100%)" in err


def test_a_table_declares_how_samples_combine(make_table: object, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = make_table(name="checked")  # type: ignore[operator]
    (tmp_path / "checked.meta.json").write_text('{"aggregate": "best"}')
    out = tmp_path / "a.json"
    args = ["bench", str(path), "--wtp", "0.01", "--seeds", "1", "--policies", "uniscale",
            "--json", str(out), "--quiet"]
    assert main(args) == 0
    assert json.loads(out.read_text())["aggregate"] == "best"
    assert "combine by best score" in capsys.readouterr().out
    assert main([*args, "--aggregate", "vote"]) == 0
    assert json.loads(out.read_text())["aggregate"] == "vote"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip().startswith("uniscale 0.")


def _error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing ran before the error
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("uniscale: error: ")
    return lines[0]


def _gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.writelines(line + "\n" for line in lines)
    return path


def test_error_unknown_table_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, ["bench", "nowhere", "--data-dir", str(tmp_path)])
    assert "table 'nowhere' not found in" in line and "--data-dir" in line


def test_error_missing_table_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, ["bench", str(tmp_path / "gone.jsonl.gz")])
    assert "no table file" in line and "gone.jsonl.gz" in line


def test_error_table_not_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.jsonl.gz"
    path.write_text('{"dataset": "d"}\n')
    line = _error(capsys, ["bench", str(path)])
    assert "is not a gzip-compressed JSON-lines file" in line


def test_error_table_missing_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _gz(tmp_path / "short.jsonl.gz", [json.dumps({"dataset": "d", "split": "train"})])
    line = _error(capsys, ["bench", str(path)])
    assert "line 1: missing field(s) prompt_id, prompt, model" in line


def test_error_table_bad_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _gz(tmp_path / "broken.jsonl.gz", ["{not json"])
    assert "line 1: not a JSON object" in _error(capsys, ["bench", str(path)])


def test_error_table_without_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _gz(tmp_path / "empty.jsonl.gz", [])
    assert "has no rows" in _error(capsys, ["bench", str(path)])


def test_error_non_numeric_score(toy_path: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with gzip.open(toy_path, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    rows[0]["score"] = "high"
    path = _gz(tmp_path / "words.jsonl.gz", [json.dumps(r) for r in rows])
    assert "must be numbers" in _error(capsys, ["bench", str(path)])


def test_error_bad_price_list(toy_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy_path.with_name("toy.models.json").write_text('{"tiny": {"input": 1}}')
    assert "not a price list" in _error(capsys, ["bench", str(toy_path)])


def test_error_bad_declared_aggregate(toy_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    toy_path.with_name("toy.meta.json").write_text('{"aggregate": "mean"}')
    assert "aggregate must be 'vote' or 'best'" in _error(capsys, ["bench", str(toy_path)])


def test_error_bad_scenario_before_any_work(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # the table does not even exist: the scenario is checked first
    line = _error(capsys, ["bench", str(tmp_path / "x.jsonl.gz"), "--scenario", "earthquake"])
    assert line == ("uniscale: error: unknown scenario 'earthquake': choose one of "
                    "budget-shift, price-change, model-added, drift")


def test_error_unknown_policy(toy_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, ["bench", str(toy_path), "--policies", "uniscale,magic"])
    assert "unknown policies magic: choose from uniscale, routing-only" in line


def test_error_warm_start_with_a_scenario(toy_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, ["bench", str(toy_path), "--warm-start", "--scenario", "drift"])
    assert "--warm-start runs the static benchmark only" in line


def test_error_no_seeds(toy_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--seeds must be at least 1" in _error(capsys, ["bench", str(toy_path),
                                                           "--seeds", "0"])


@pytest.mark.disable_socket  # offline: any network use fails the run
def test_demo_runs_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png, out = tmp_path / "demo.png", tmp_path / "demo.json"
    code = main(["demo", "--small", "--limit", "60", "--out", str(png), "--json", str(out),
                 "--quiet"])
    assert code == 0
    assert png.stat().st_size > 1000
    data = json.loads(out.read_text())
    tables = [t["table"] for t in data["tables"]]
    assert tables == ["faithful_cot", "game24_tot", "aqua_pot"]
    for entry in data["tables"]:
        assert entry["warm_start"] is True
        assert {"uniscale", "routing-only", "tts-only", "best-fixed",
                "trained-router"} <= set(entry["policies"])
        for name, fig in entry["policies"].items():
            assert "ci95" in fig  # null here: --small runs one seed
            assert ("paired_diff" in fig) == (name != "uniscale")
        # the plot's frontier has a point at every W of the table printed beside it
        sweep = entry["sweep"]
        assert entry["objective"]["willingness_to_pay"] in sweep["wtp"]
        for name in ("uniscale", "routing-only", "tts-only", "trained-router"):
            assert [pt["wtp"] for pt in sweep["frontier"][name]] == sweep["wtp"]
    budget = data["tables"][0]["budget"]
    assert budget["objective"] == {"kind": "budget", "per_request": budget["target"]}
    assert "oracle" in capsys.readouterr().out


def test_progress_lines_while_tuning(toy_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(toy_path), "--wtp", "0.01", "--seeds", "1", "--tune",
                 "--policies", "uniscale"]) == 0
    captured = capsys.readouterr()
    assert "tuning on the train split: 400/400 steps (100%)" in captured.err  # 40 x 5 x 2
    assert "tuned on the train split: uniscale" in captured.out
