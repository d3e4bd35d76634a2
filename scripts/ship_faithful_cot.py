"""Build the faithful_cot subset shipped in ``uniscale/data`` from the full outcome table.

The subset keeps, for each dataset of the table, the ``--per-dataset`` prompts whose
``sha256(prompt_id)`` hex digests sort first (all of a dataset's prompts when it has
fewer), and only the models and strategies below. Rows are copied unchanged and in the
full table's order; the output is byte-for-byte reproducible (gzip level 9, mtime 0).

Run (from the repository root):
    python scripts/ship_faithful_cot.py [--source ../shared/data] [--per-dataset 500]

The selection looks at prompt ids only (never at scores or splits), so it does not
favour any policy. The default count was fixed by size and time alone: 500 keeps the
file near 1.3 MB (the package's data near 2 MB) and ``uniscale demo`` within 150 s on
a 2-core machine.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
from collections import defaultdict
from pathlib import Path

MODELS = ("code-davinci-002", "gpt-3.5-turbo", "gpt-4", "text-davinci-003")
STRATEGIES = ("standard", "cot", "ltm", "nonl", "nl+sl")
PER_DATASET = 500
ROOT = Path(__file__).resolve().parent.parent


def _digest(prompt_id: str) -> str:
    return hashlib.sha256(prompt_id.encode()).hexdigest()


def select(rows: list[dict[str, object]], per_dataset: int) -> list[dict[str, object]]:
    """The subset's rows, in the order of ``rows``."""
    ids: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        ids[str(r["dataset"])].add(str(r["prompt_id"]))
    keep = set()
    for found in ids.values():
        keep.update(sorted(found, key=_digest)[:per_dataset])
    return [r for r in rows if r["prompt_id"] in keep and r["model"] in MODELS
            and r["strategy"] in STRATEGIES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--per-dataset", type=int, default=PER_DATASET)
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "uniscale" / "data")
    args = parser.parse_args()
    with gzip.open(args.source / "faithful_cot.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    subset = select(rows, args.per_dataset)
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in subset)
    buf = io.BytesIO()
    with gzip.GzipFile("faithful_cot.jsonl", "wb", 9, buf, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    (args.out / "faithful_cot.jsonl.gz").write_bytes(buf.getvalue())
    prices = json.loads((args.source / "faithful_cot.models.json").read_text())
    (args.out / "faithful_cot.models.json").write_text(
        json.dumps({m: prices[m] for m in sorted(MODELS)}, indent=2))
    prompts = len({r["prompt_id"] for r in subset})
    print(f"faithful_cot: {prompts} prompts, {len(subset)} rows, "
          f"{len(buf.getvalue())} bytes gzipped")


if __name__ == "__main__":
    main()
