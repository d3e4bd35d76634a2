"""The distribution llama-index-llms-uniscale: layout, metadata, install and import."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from llama_index.core.llms.function_calling import FunctionCallingLLM

import llama_index.llms.uniscale as package
from llama_index.llms.uniscale import Tracker, UniScaleLLM

ROOT = Path(__file__).resolve().parents[1]


def test_public_api() -> None:
    assert package.__all__ == ["Tracker", "UniScaleLLM"]
    assert issubclass(UniScaleLLM, FunctionCallingLLM)
    assert UniScaleLLM.class_name() == "UniScaleLLM"
    assert Tracker.__module__ == "llama_index.llms.uniscale.tracking"


def test_namespace_package_layout() -> None:
    assert not (ROOT / "llama_index" / "__init__.py").exists()
    assert not (ROOT / "llama_index" / "llms" / "__init__.py").exists()
    assert (ROOT / "llama_index" / "llms" / "uniscale" / "__init__.py").is_file()
    assert (ROOT / "llama_index" / "llms" / "uniscale" / "base.py").is_file()
    assert Path(package.__file__).resolve().parent == ROOT / "llama_index" / "llms" / "uniscale"


def test_pyproject_follows_llamaindex_conventions() -> None:
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["build-system"]["build-backend"] == "hatchling.build"
    assert meta["project"]["name"] == "llama-index-llms-uniscale"
    deps = meta["project"]["dependencies"]
    assert any(d.startswith("uniscale") for d in deps)
    assert "llama-index-core>=0.14,<0.15" in deps
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["include"] == ["llama_index/"]
    assert meta["tool"]["llamahub"]["import_path"] == "llama_index.llms.uniscale"


def test_distribution_is_installed_with_its_requirements() -> None:
    dist = importlib.metadata.distribution("llama-index-llms-uniscale")
    requires = " ".join(dist.requires or [])
    assert "uniscale" in requires and "llama-index-core" in requires
    assert dist.version == "0.1.0"


def test_imports_next_to_llama_index_core_in_a_fresh_interpreter(tmp_path: Path) -> None:
    code = (
        "import llama_index.core, uniscale as us\n"
        "from llama_index.core.llms.mock import MockLLM\n"
        "from llama_index.llms.uniscale import UniScaleLLM\n"
        "llm = UniScaleLLM(models={'m': MockLLM()}, prices={'m': us.Price(1, 1)})\n"
        "print(llm.metadata.model_name, llm.complete('hi').text)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["uniscale:m", "hi"]


def test_wheel_holds_only_the_integration(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(tmp_path), str(ROOT)], check=True,
                   capture_output=True)
    (wheel,) = tmp_path.glob("llama_index_llms_uniscale-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if n.endswith(".py")]
    assert "llama_index/llms/uniscale/__init__.py" in code
    assert "llama_index/llms/uniscale/base.py" in code
    assert all(n.startswith("llama_index/llms/uniscale/") for n in code)
    assert "llama_index/llms/uniscale/py.typed" in names  # type checkers read its hints
    assert not any(n.startswith("tests/") for n in names)


def test_mypy_sees_the_real_types_in_a_users_script(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    script = tmp_path / "app.py"
    script.write_text(
        "import uniscale as us\n"
        "from llama_index.core.llms.mock import MockLLM\n"
        "from llama_index.llms.uniscale import UniScaleLLM\n"
        "llm = UniScaleLLM(models={'m': MockLLM()}, prices={'m': us.Price(1, 1)})\n"
        "response = llm.complete('hi', context={'tier': 2})\n"
        "reveal_type(llm.router)\n"
        "reveal_type(llm.feedback(response, 1.0))\n"
        "llm.feedback(response, 'good')\n"
    )
    out = subprocess.run([sys.executable, "-m", "mypy", "--namespace-packages",
                          "--ignore-missing-imports", str(script)],
                         cwd=tmp_path, capture_output=True, text=True)
    assert 'Revealed type is "uniscale.router.Router"' in out.stdout
    assert 'Revealed type is "bool"' in out.stdout or 'builtins.bool' in out.stdout
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "app.py:8" in errors[0] and '"str"' in errors[0], out.stdout
