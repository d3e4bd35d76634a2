"""Regenerate the README's results: the demo, and the bench on every evaluation table.

One command (from the repository root, with ``../shared/data`` beside it):

    python benchmarks/results.py            # demo + every table, cold and warm start
    python benchmarks/results.py --seeds 3  # a fixed number of seeds per bench run
    python benchmarks/results.py --readme-only   # rewrite README from docs/results/*.json

It runs ``uniscale demo`` (figures and ``docs/uniscale-demo.png``) and ``uniscale bench``
on every table of ``../shared/data`` with and without ``--warm-start``, plus budget runs
on the paretobandit and routerbench tables, writes every figure to ``docs/results/``, and
replaces the README between ``<!-- results: begin -->`` and ``<!-- results: end -->``.
Nothing is tuned here; every figure is the test part of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TABLES = ("date_mot", "gsm8k_mot", "gsm8k_verifier", "routerbench", "faithful_cot",
          "aqua_pot", "game24_tot", "paretobandit")
LIMITS = {"faithful_cot": 2000}  # the full table has 10037 prompts x 112 pairs
BUDGET_TABLES = ("paretobandit", "routerbench")
BEGIN, END = "<!-- results: begin -->", "<!-- results: end -->"
ORDER = ("uniscale", "routing-only", "tts-only", "trained-router", "paretobandit",
         "best-fixed", "best-fixed-hindsight", "random", "oracle")


def _cli(args: list[str]) -> None:
    from uniscale.cli import main

    print("$ uniscale " + " ".join(args), flush=True)
    started = time.time()
    code = main(args)
    print(f"  ({time.time() - started:.0f}s)", flush=True)
    if code != 0:
        raise SystemExit(code)


def _budget(table: str) -> float:
    """The budget of a table's budget run: between its train hull's cheapest and dearest arm."""
    from uniscale.bench.command import prepare
    from uniscale.bench.demo import demo_choice

    return demo_choice(prepare(SHARED / f"{table}.jsonl.gz")).budget


def run_all(out: Path, seeds: int | None, tables: tuple[str, ...], *, demo: bool = True
            ) -> None:
    """Run the demo and the benchmarks, writing JSON figures into ``out``.

    ``seeds`` None runs each bench with its default: seeds added until uniscale's 95%
    interval is within ±0.01 (at most 64).
    """
    out.mkdir(parents=True, exist_ok=True)
    if demo:
        _cli(["demo", "--quiet", "--json", str(out / "demo.json"),
              "--out", str(ROOT / "docs" / "uniscale-demo.png")])
    for table in tables:
        base = ["bench", str(SHARED / f"{table}.jsonl.gz"), "--quiet",
                *(["--seeds", str(seeds)] if seeds is not None else [])]
        if table in LIMITS:
            base += ["--limit", str(LIMITS[table])]
        for warm in (False, True):
            name = f"{table}-{'warm' if warm else 'cold'}"
            _cli([*base, *(["--warm-start"] if warm else []), "--json", str(out / f"{name}.json")])
        if table in BUDGET_TABLES:
            budget = f"{_budget(table):.6g}"
            _cli([*base, "--warm-start", "--budget", budget,
                  "--policies", "uniscale,paretobandit,trained-router,best-fixed,oracle",
                  "--json", str(out / f"{table}-budget.json")])


def _fmt(policy: dict[str, Any]) -> str:
    lo, hi = policy["ci95"]
    half = None if lo is None or hi is None else (hi - lo) / 2
    return f"{policy['test_reward']:.3f}" + ("" if half is None else f" ± {half:.3f}")


def _verdict(policy: dict[str, Any]) -> str:
    diff = policy.get("paired_diff")
    if not diff:
        return ""
    return {"tie": "tie", "ahead of uniscale": "ahead", "behind uniscale": "behind"}[
        diff["verdict"]]


def _bench_rows(out: Path, tables: tuple[str, ...]) -> list[str]:
    lines = ["| table (W) | start | uniscale | routing-only | tts-only | trained-router | "
             "paretobandit | best-fixed (train) | oracle |", "|---" * 9 + "|"]
    for table in tables:
        for start in ("cold", "warm"):
            path = out / f"{table}-{start}.json"
            if not path.exists():
                continue
            data = json.loads(path.read_text())
            pol = data["policies"]
            w = data["objective"]["willingness_to_pay"]
            cells = [_fmt(pol["uniscale"])]
            for name in ("routing-only", "tts-only", "trained-router", "paretobandit",
                         "best-fixed", "oracle"):
                if name in pol:
                    verdict = _verdict(pol[name])
                    cells.append(f"{pol[name]['test_reward']:.3f}"
                                 + (f" ({verdict})" if verdict and name != "oracle" else ""))
                else:
                    cells.append("—")
            lines.append(f"| {table} ({w:.3g}) | {start}, {len(data['seeds'])} seeds | "
                         + " | ".join(cells) + " |")
    return lines


def _budget_rows(out: Path) -> list[str]:
    lines = ["| table (budget $/request) | policy | test quality | mean cost vs budget |",
             "|---|---|---|---|"]
    for table in BUDGET_TABLES:
        path = out / f"{table}-budget.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        budget = data["objective"]["per_request"]
        for name in ("uniscale", "paretobandit", "trained-router", "best-fixed"):
            p = data["policies"].get(name)
            if p is not None:
                lines.append(f"| {table} ({budget:.3g}) | {name} | {p['test_quality']:.3f} | "
                             f"{100 * p['budget_error']:+.1f}% |")
    return lines


def _demo_rows(out: Path) -> list[str]:
    path = out / "demo.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    lines = ["| table (axes, W) | policy | test quality | test cost $ | test reward ± 95% | "
             "vs uniscale (paired) |", "|---|---|---|---|---|---|"]
    for entry in data["tables"]:
        w = entry["objective"]["willingness_to_pay"]
        first = True
        for name in ORDER:
            p = entry["policies"].get(name)
            if p is None:
                continue
            label = f"{entry['table']} ({entry['axes']}, W = {w:.3g})" if first else ""
            first = False
            lines.append(f"| {label} | {name} | {p['test_quality']:.3f} | "
                         f"{p['test_cost']:.4f} | {_fmt(p)} | {_verdict(p)} |")
    return lines


def _same(policy: dict[str, Any]) -> bool:
    diff = policy.get("paired_diff") or {}
    return diff.get("mean") == 0.0 and diff.get("ci95") == [0.0, 0.0]


def _plainly(out: Path, tables: tuple[str, ...]) -> list[str]:
    """Where uniscale ties or loses, read off the paired differences."""
    runs: list[tuple[str, dict[str, Any]]] = []
    demo = out / "demo.json"
    if demo.exists():
        runs += [(f"demo {e['table']}", e) for e in json.loads(demo.read_text())["tables"]]
    for table in tables:
        for start in ("cold", "warm"):
            path = out / f"{table}-{start}.json"
            if path.exists():
                runs.append((f"{table} {start} start", json.loads(path.read_text())))
    lines = []
    for label, data in runs:
        pol = data["policies"]
        ahead = [n for n in ORDER if n not in ("oracle", "best-fixed-hindsight", "uniscale")
                 and n in pol and _verdict(pol[n]) == "ahead"]
        ties = [n + (" (the same arms here)" if _same(pol[n]) else "")
                for n in ("best-fixed", "trained-router", "routing-only", "tts-only",
                          "paretobandit") if n in pol and _verdict(pol[n]) == "tie"]
        if ahead:
            lines.append(f"* {label}: **uniscale loses** to {', '.join(ahead)}"
                         + (f"; ties {', '.join(ties)}" if ties else "") + ".")
        elif ties:
            lines.append(f"* {label}: uniscale ties {', '.join(ties)} (no significant "
                         "difference) and is ahead of the rest.")
        else:
            lines.append(f"* {label}: uniscale is ahead of every runnable policy.")
    return lines


def readme_section(out: Path, tables: tuple[str, ...]) -> str:
    """The README's results section from the JSON figures in ``out``."""
    parts = [
        BEGIN,
        "Generated by `python benchmarks/results.py` (figures in `docs/results/`; each bench"
        " row says its seeds: without `--seeds` a bench run adds seeds until uniscale's 95%"
        " interval is within ±0.01, at most 64). Reward ="
        " quality − cost / W on the test part, each policy scored by the expected outcome"
        " of the arm it chose on each prompt (the learners still learn from one replayed"
        " draw; the figure does not carry that draw's luck); ± is a 95% Student-t interval"
        " over seeds (stream order, draws and the learners' randomness on these test"
        " prompts, not other prompts); "
        "\"ahead/behind/tie\" is the paired difference against `uniscale` on the same "
        "prompt order per seed (tie = its 95% interval contains 0). `best-fixed` is chosen "
        "on the train split; `best-fixed-hindsight` is the arm best on the test part "
        "(a reference no one can run). Warm start = the train split through every arm as "
        "an eval set (`Router.fit`), then online on the test part. `trained-router` is "
        "fitted on that eval set in both settings (it is an offline router), so its "
        "figures do not change with the start.",
        "",
        "### `uniscale demo` (shipped tables, warm start)",
        "",
        *_demo_rows(out),
        "",
        "![frontier](docs/uniscale-demo.png)",
        "",
        "### `uniscale bench` on every evaluation table",
        "",
        *_bench_rows(out, tables),
        "",
        "### Under a budget (warm start): uniscale vs ParetoBandit",
        "",
        *_budget_rows(out),
        "",
        "### Where it ties or loses (read off the paired differences above)",
        "",
        *_plainly(out, tables),
        END,
    ]
    return "\n".join(parts)


def write_readme(out: Path, tables: tuple[str, ...], readme: Path) -> None:
    """Replace the README's results block (between the markers) with fresh figures."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + readme_section(out, tables) + tail)
    print(f"wrote {readme}")


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per bench run (default: the bench's own, enough for "
                        "±0.01 on uniscale, at most 64)")
    parser.add_argument("--skip-demo", action="store_true", help="only the bench tables")
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--readme-only", action="store_true",
                        help="only rewrite the README from existing figures")
    args = parser.parse_args()
    tables = tuple(t for t in args.tables.split(",") if t)
    if not args.readme_only:
        if not SHARED.exists():
            sys.exit(f"{SHARED} not found: the evaluation tables live beside the repository")
        run_all(args.out, args.seeds, tables, demo=not args.skip_demo)
    write_readme(args.out, tables, args.readme)


if __name__ == "__main__":
    main()
