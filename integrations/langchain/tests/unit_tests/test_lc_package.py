"""The public surface of langchain_uniscale."""

from __future__ import annotations

import subprocess
import sys

import langchain_uniscale

EXPECTED_ALL = ["ChatUniScale", "__version__"]


def test_all_is_frozen() -> None:
    assert sorted(langchain_uniscale.__all__) == sorted(EXPECTED_ALL)


def test_every_exported_name_exists() -> None:
    for name in langchain_uniscale.__all__:
        assert getattr(langchain_uniscale, name) is not None


def test_import_in_a_fresh_interpreter() -> None:
    code = (
        "import langchain_uniscale, sys\n"
        "from langchain_uniscale import ChatUniScale\n"
        "from langchain_core.language_models import BaseChatModel\n"
        "assert issubclass(ChatUniScale, BaseChatModel)\n"
        "print(ChatUniScale.__name__, langchain_uniscale.__version__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "ChatUniScale"
