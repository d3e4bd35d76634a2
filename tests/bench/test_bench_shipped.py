"""The tables shipped in ``uniscale/data``: their attribution, size and reproducible subset."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import uniscale as us
from uniscale.bench.demo import DEMO_TABLES
from uniscale.bench.table import load_table

DATA = Path(us.__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
FULL = REPO.parent / "shared" / "data" / "faithful_cot.jsonl.gz"
NOTICE = (DATA / "NOTICE.md").read_text()
COPYRIGHT = {
    "gsm8k_verifier": "Copyright (c) 2021 OpenAI",
    "faithful_cot": "Copyright (c) 2023 Qing Lyu",
    "aqua_pot": "Copyright (c) 2022 Wenhu Chen",
    "game24_tot": "Copyright (c) 2023 Shunyu Yao",
    "paretobandit": "Copyright 2025 ParetoBandit Authors",
}


def _rows(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _section(name: str) -> str:
    start = NOTICE.index(f"## {name} (")
    end = NOTICE.find("\n## ", start + 1)
    return " ".join(NOTICE[start:end].split())


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found is not None, pattern
    return int(found[1])


def test_every_shipped_table_is_attributed() -> None:
    shipped = sorted(p.name.removesuffix(".jsonl.gz") for p in DATA.glob("*.jsonl.gz"))
    assert shipped == sorted(COPYRIGHT)
    for name, line in COPYRIGHT.items():
        assert line in _section(name), name
        assert (DATA / f"{name}.models.json").exists(), name
    assert "Permission is hereby granted" in NOTICE
    assert (DATA / "LICENSE-Apache-2.0.txt").stat().st_size > 10_000
    assert {spec.name for spec in DEMO_TABLES} <= set(shipped)


def test_shipped_faithful_cot_is_the_subset_its_notice_describes() -> None:
    section = _section("faithful_cot")
    per_dataset = _number(r"the (\d+) prompts whose", section)
    prompts = _number(r"(\d+) prompts in all", section)
    rows = _number(r"\((\d+) rows", section)
    path = DATA / "faithful_cot.jsonl.gz"
    assert path.stat().st_size < 1_400_000  # keeps the wheel small
    data = _rows(path)
    assert len(data) == rows
    ids: dict[str, set[str]] = defaultdict(set)
    for r in data:
        ids[str(r["dataset"])].add(str(r["prompt_id"]))
    assert sum(len(v) for v in ids.values()) == prompts
    assert len(ids) == 10 and max(len(v) for v in ids.values()) == per_dataset
    assert {r["model"] for r in data} == {"gpt-3.5-turbo", "gpt-4", "code-davinci-002",
                                          "text-davinci-003"}
    assert {r["strategy"] for r in data} == {"standard", "cot", "ltm", "nonl", "nl+sl"}
    prices = json.loads((DATA / "faithful_cot.models.json").read_text())
    assert set(prices) == {r["model"] for r in data}
    table = load_table(path)
    assert table.n_prompts == prompts
    assert 0.2 < table.is_test.mean() < 0.4


@pytest.mark.skipif(not FULL.exists(), reason="the full outcome table is not next to the repo")
def test_the_subset_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "ship_faithful_cot.py"),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    for name in ("faithful_cot.jsonl.gz", "faithful_cot.models.json"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    # the selection rule: per dataset, the prompt ids whose sha256 digests sort first
    full: dict[str, set[str]] = defaultdict(set)
    for r in _rows(FULL):
        full[str(r["dataset"])].add(str(r["prompt_id"]))
    shipped: dict[str, set[str]] = defaultdict(set)
    for r in _rows(DATA / "faithful_cot.jsonl.gz"):
        shipped[str(r["dataset"])].add(str(r["prompt_id"]))
    for dataset, found in full.items():
        first = sorted(found, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
        assert shipped[dataset] == set(first[:len(shipped[dataset])])
        assert len(shipped[dataset]) == min(len(found), 500)
