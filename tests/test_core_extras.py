"""Optional extras: a missing one is named in the error, and the CLI says it in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOCK = "import sys; sys.modules['matplotlib'] = None; "


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True,
                          text=True, timeout=120, check=False)


def test_plots_without_matplotlib_name_the_extra() -> None:
    proc = _run("from uniscale.plotting import pyplot\n"
                "try:\n    pyplot()\nexcept ImportError as e:\n    print('ERR', e)\n")
    assert proc.returncode == 0, proc.stderr
    assert "ERR plots need matplotlib: pip install 'uniscale[bench]'" in proc.stdout


def test_cli_reports_a_missing_extra_in_one_line(tmp_path: Path) -> None:
    log = f"{tmp_path}/decisions.jsonl"
    make = ("import uniscale as us\n"
            "arms = us.ArmSpace.product(models=['a'], strategies=[us.Single()], n=[1])\n"
            f"r = us.Router(arms, {{'a': us.Price(1, 2)}}, log={log!r})\n"
            "d = r.decide('hi'); r.feedback(d.id, 1.0); r.close()\n")
    assert _run(make).returncode == 0
    args = ["report", log, "--plot", f"{tmp_path}/p.png"]
    proc = _run(f"from uniscale.cli import main; raise SystemExit(main({args!r}))")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.strip() == ("uniscale: error: plots need matplotlib: "
                                   "pip install 'uniscale[bench]'")
