"""``uniscale bench --feedback-delay/--feedback-rate/--label-noise/--implicit-reward``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uniscale.cli import main

BASE = ["--wtp", "0.01", "--seeds", "1", "--policies", "uniscale,tts-only,best-fixed",
        "--dim", "32", "--quiet"]


def _run(toy_path: Path, tmp_path: Path, *flags: str) -> dict[str, object]:
    out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.json"
    assert main(["bench", str(toy_path), *BASE, "--json", str(out), *flags]) == 0
    data = json.loads(out.read_text())
    assert isinstance(data, dict)
    return data


def test_feedback_flags_reach_the_online_learners(toy_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    full = _run(toy_path, tmp_path)
    sparse = _run(toy_path, tmp_path, "--feedback-rate", "0.1", "--feedback-delay", "3",
                  "--label-noise", "0.2", "--implicit-reward", "agreement")
    assert "feedback" not in full
    assert sparse["feedback"] == {"delay": 3, "rate": 0.1, "label_noise": 0.2,
                                  "implicit": "agreement"}
    text = capsys.readouterr().out
    assert "feedback to the online learners: 10% scored, delay 3, flip 0.2, + implicit " \
        "agreement" in text
    policies_full, policies_sparse = full["policies"], sparse["policies"]
    assert isinstance(policies_full, dict) and isinstance(policies_sparse, dict)
    # the hindsight policies do not learn: the plan leaves them alone
    for name in ("best-fixed", "oracle"):
        for figure in ("test_reward", "test_quality", "test_cost"):
            assert policies_sparse[name][figure] == policies_full[name][figure]
    for learner in ("uniscale", "tts-only"):  # what they learned from changed
        assert policies_sparse[learner]["cost"] != policies_full[learner]["cost"]


@pytest.mark.parametrize("flags, words", [
    (["--feedback-rate", "0"], "--feedback-rate must be a share in (0, 1], got 0.0"),
    (["--feedback-rate", "1.5"], "--feedback-rate must be a share in (0, 1], got 1.5"),
    (["--feedback-rate", "nan"], "--feedback-rate must be a share in (0, 1], got nan"),
    (["--label-noise", "1"], "--label-noise must be a flip rate in [0, 1), got 1.0"),
    (["--label-noise", "-0.1"], "--label-noise must be a flip rate in [0, 1), got -0.1"),
    (["--feedback-delay", "-2"], "--feedback-delay must be a whole number of requests >= 0"),
    (["--implicit-reward", "vibes"], "--implicit-reward must be one of agreement, got"),
    (["--feedback-rate", "0.5", "--policies", "uniscale,paretobandit"],
     "paretobandit learns every score at once: drop it from --policies"),
])
def test_bad_feedback_flags_are_one_clear_line(toy_path: Path, flags: list[str], words: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(toy_path), "--wtp", "0.01", "--quiet", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uniscale: error: ") and words in err and "\n" not in err
