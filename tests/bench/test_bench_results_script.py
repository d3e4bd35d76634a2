"""``benchmarks/results.py`` rewrites the README's results block from bench figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from uniscale.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "results.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("results_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_block_is_rebuilt_from_the_figures(toy_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    out.mkdir()
    for start, flag in (("cold", []), ("warm", ["--warm-start"])):
        assert main(["bench", str(toy_path), "--wtp", "0.01", "--seeds", "2", "--quiet",
                     "--policies", "uniscale,routing-only,trained-router", *flag,
                     "--json", str(out / f"toy-{start}.json")]) == 0
    results = _script()
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\nbefore\n{results.BEGIN}\nold figures\n{results.END}\nafter\n")
    results.write_readme(out, ("toy",), readme)
    text = readme.read_text()
    assert "old figures" not in text and text.startswith("# T\n\nbefore\n")
    assert text.endswith(f"{results.END}\nafter\n")
    assert "| toy (0.01) | cold, 2 seeds | " in text and "| toy (0.01) | warm, 2 seeds | " in text
    assert "* toy cold start: " in text and "* toy warm start: " in text


def test_readme_without_the_block_is_refused(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# nothing to replace\n")
    with pytest.raises(SystemExit, match="has no"):
        _script().write_readme(tmp_path, ("toy",), readme)
