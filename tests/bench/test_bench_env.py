"""Replay environment: table loading, aggregation, cost, raggedness, the Backend path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import uniscale as us
from uniscale.bench.env import PROMPT_OPTION, ReplayEnv, n_values, replay_backends
from uniscale.bench.table import TableError, load_table, resolve_table


def test_load_table_is_ragged_and_priced(toy_path: Path) -> None:
    table = load_table(toy_path)
    assert table.name == "toy"
    assert table.n_prompts == 60
    assert set(table.models) == {"tiny", "huge"}
    g = table.pair_index("huge", "direct")
    assert (table.counts[:30, g] == 3).all() and (table.counts[30:, g] == 0).all()
    assert table.prices["huge"] == us.Price(20.0, 40.0)
    assert table.is_test.sum() == 20


def test_prices_are_inferred_without_models_file(make_table) -> None:
    path = make_table(name="bare", with_prices=False)
    table = load_table(path)
    assert table.prices["huge"].input == pytest.approx(20.0, rel=1e-6)
    assert table.prices["tiny"].output == pytest.approx(1.0, rel=1e-6)


def test_bare_name_resolves_through_data_dir(toy_path: Path) -> None:
    assert resolve_table("toy", toy_path.parent) == toy_path
    with pytest.raises(TableError):
        resolve_table("no_such_table", toy_path.parent)


def test_n_values_cover_the_recorded_counts() -> None:
    assert n_values(1) == (1,)
    assert n_values(3) == (1, 3)
    assert n_values(12, (1, 3, 5, 10, 20)) == (1, 3, 5, 10, 12)


def test_arms_follow_the_table(toy_path: Path) -> None:
    env = ReplayEnv(load_table(toy_path))
    keys = {a.key for a in env.arms}
    assert "tiny/sc:direct/5" in keys and "huge/sc:direct/3" in keys
    assert "tiny/single:steps/1" in keys
    huge3 = env.arm_index[next(a for a in env.arms if a.key == "huge/sc:direct/3")]
    assert env.allowed[:30, huge3].all() and not env.allowed[30:, huge3].any()


def _one_prompt_table(folder: Path, answers: list[str | None], scores: list[float]) -> Path:
    import gzip

    rows = [{"dataset": "d", "split": "train", "prompt_id": "p0", "prompt": "q?", "model": "m",
             "strategy": "s", "sample": i, "answer": a, "score": sc, "input_tokens": 100,
             "output_tokens": 10 * (i + 1), "cost_usd": (100 * 1.0 + 10 * (i + 1) * 2.0) / 1e6}
            for i, (a, sc) in enumerate(zip(answers, scores, strict=True))]
    path = folder / "one.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows))
    (folder / "one.models.json").write_text(
        json.dumps({"m": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}))
    return path


def test_vote_ignores_null_and_ties_go_to_the_first_drawn(tmp_path: Path) -> None:
    path = _one_prompt_table(tmp_path, ["x", None, "y", "y", None], [0, 0, 1, 1, 0])
    env = ReplayEnv(load_table(path))
    assert env.chosen(0, 0, np.array([0, 2, 3])) == 2  # y wins 2 to 1
    assert env.chosen(0, 0, np.array([1, 0, 4])) == 0  # null answers do not vote
    assert env.chosen(0, 0, np.array([2, 0])) == 2  # tie: the first drawn answer
    assert env.chosen(0, 0, np.array([0, 2])) == 0
    assert env.chosen(0, 0, np.array([1, 4])) == 1  # nobody answered: the first sample


def test_best_aggregate_picks_the_highest_score(tmp_path: Path) -> None:
    path = _one_prompt_table(tmp_path, ["x", "x", "y", "z", "x"], [0, 0, 1, 0, 0])
    env = ReplayEnv(load_table(path), aggregate="best")
    assert env.chosen(0, 0, np.array([0, 3, 2])) == 2
    assert isinstance(env.arms[-1].strategy, us.BestOfN)


def test_cost_pays_the_input_once_per_call(tmp_path: Path) -> None:
    path = _one_prompt_table(tmp_path, ["x"] * 5, [1] * 5)
    table = load_table(path)
    env = ReplayEnv(table)
    rows = [0, 2, 4]
    expected = (100 * 1.0 + (10 + 30 + 50) * 2.0) / 1e6
    assert env.cost(0, 0, rows) == pytest.approx(expected)
    assert ReplayEnv(table, batch_input=False).cost(0, 0, rows) == pytest.approx(
        float(table.cost[0, 0, rows].sum()))
    assert env.cost(0, 0, rows, price_scale=4.0) == pytest.approx(4 * expected)


def test_expected_quality_matches_the_exact_vote(tmp_path: Path) -> None:
    # answers x, x, y: a vote of all 3 always says x (score 1); of 2: x unless {x,y}
    # drawn with y first -> P(y wins) = P(pair is {x,y}) * 1/2 = 2/3 * 1/2.
    path = _one_prompt_table(tmp_path, ["x", "x", "y"], [1, 1, 0])
    env = ReplayEnv(load_table(path), n_grid=(1, 2, 3))
    exp = env.expected(samples=4000, seed=1)
    by_n = {int(n): exp.quality[0, i] for i, n in enumerate(env.arm_n)}
    assert by_n[1] == pytest.approx(2 / 3)
    assert by_n[3] == pytest.approx(1.0)
    assert by_n[2] == pytest.approx(1 - 1 / 3, abs=0.03)
    assert exp.cost[0, list(env.arm_n).index(3)] == pytest.approx(
        (100 + 60 * 2.0) / 1e6)


def test_router_invoke_replays_through_the_backend(toy_path: Path) -> None:
    table = load_table(toy_path)
    env = ReplayEnv(table)
    router = us.Router(env.arms, table.prices, us.Tradeoff(0.01),
                       replay_backends(env, table.models, seed=3), seed=3)
    rng_free = [a for a in env.arms if a.key == "tiny/sc:direct/5"]
    for p in range(6):
        result = router.invoke(str(table.prompts[p]), allowed=rng_free,
                               **{PROMPT_OPTION: p})
        assert len(result.samples) == 5
        rows = [s.payload[2] for s in result.samples]
        assert sorted(rows) == [0, 1, 2, 3, 4]  # without replacement
        _, g, k = result.sample.payload
        assert env.chosen(p, g, np.array(rows)) == k
        assert result.cost == pytest.approx(env.cost(p, g, rows))
        assert router.feedback(result.decision.id, float(table.score[p, g, k]))


def test_expected_values_agree_with_replayed_draws(toy_path: Path) -> None:
    table = load_table(toy_path)
    env = ReplayEnv(table)
    exp = env.expected(samples=256)
    a = next(i for i, arm in enumerate(env.arms) if arm.key == "tiny/sc:direct/3")
    g = int(env.arm_pair[a])
    rng = np.random.default_rng(0)
    got = [table.score[p, g, env.chosen(p, g, env.draw(p, g, 3, rng))]
           for _ in range(100) for p in range(table.n_prompts)]
    assert np.mean(got) == pytest.approx(np.nanmean(exp.quality[:, a]), abs=0.02)


def test_shared_tables_load_when_present() -> None:
    here = Path(__file__).resolve()
    folder = here.parents[3] / "shared" / "data"
    path = folder / "gsm8k_verifier.jsonl.gz"
    if not path.exists():
        pytest.skip("../shared/data is not available")
    table = load_table(path)
    assert table.n_prompts > 1000 and len(table.pairs) == 4
