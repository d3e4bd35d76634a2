"""WordLlamaFeaturizer: offline, deterministic, meaningful, saved and loaded with a router."""

from __future__ import annotations

import builtins
import importlib.util
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import uniscale as us

pytest.importorskip("wordllama")
pytest_socket = pytest.importorskip("pytest_socket")


def msgs(text: str) -> list[us.Message]:
    return [us.Message(role="user", content=text)]


@pytest.fixture(scope="module")
def wl64() -> us.WordLlamaFeaturizer:
    return us.WordLlamaFeaturizer().load()


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_blocked_sockets_stop_the_download_wordllama_would_do() -> None:
    """The guard the next test runs under: the HTTP call of a download fails."""
    import requests

    pytest_socket.disable_socket()
    try:
        with pytest.raises(pytest_socket.SocketBlockedError):
            requests.get("http://127.0.0.1:9/l2_supercat_tokenizer_config.json", timeout=1)
    finally:
        pytest_socket.enable_socket()


def test_loads_and_embeds_with_sockets_disabled(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    import requests
    import tokenizers

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/wordllama to fall back on
    real = tokenizers.Tokenizer

    class NoHub:
        """Lets files load; a hub download (done in Rust, past the socket guard) fails."""

        from_file = staticmethod(real.from_file)

        @staticmethod
        def from_pretrained(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a tokenizer download was attempted")

    def no_get(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an HTTP request was attempted")

    monkeypatch.setattr(tokenizers, "Tokenizer", NoHub)
    monkeypatch.setattr(requests, "get", no_get)
    pytest_socket.disable_socket()
    try:
        featurizer = us.WordLlamaFeaturizer(dim=128)
        vec = featurizer.transform(msgs("Translate 'good morning' into French."))
    finally:
        pytest_socket.enable_socket()
    assert vec.shape == (128,)
    assert np.all(np.isfinite(vec))
    assert np.linalg.norm(vec) == pytest.approx(1.0)
    assert not list((tmp_path / ".cache").glob("**/*"))  # nothing downloaded or cached


def _network_namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(not _network_namespace_works(),
                    reason="needs `unshare -n` (root) for a process with no network at all")
def test_works_in_a_process_without_any_network(tmp_path: Path) -> None:
    code = (
        "import numpy as np, uniscale as us;"
        "v = us.WordLlamaFeaturizer().transform([us.Message(role='user', content='hi there')]);"
        "print(v.shape[0], bool(np.isfinite(v).all()))"
    )
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120, check=False, env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["64", "True"]


def test_vectors_are_deterministic_unit_and_match_wordllama(
        wl64: us.WordLlamaFeaturizer) -> None:
    text = "Write a SQL query that counts the orders per customer."
    a = wl64.transform(msgs(text))
    b = us.WordLlamaFeaturizer().transform(msgs(text))
    assert a.shape == (64,) and wl64.dim == 64
    np.testing.assert_array_equal(a, b)
    assert np.linalg.norm(a) == pytest.approx(1.0)
    assert a[-1] == pytest.approx(1 / np.sqrt(2))  # bias next to a unit embedding
    # the same embedding wordllama's own inference object computes (truncated to 63)
    model = wl64._model()
    expected = model.embed(text, norm=True)[0]
    np.testing.assert_allclose(wl64.embed(text), expected, atol=1e-6)
    np.testing.assert_allclose(a[:-1], expected / np.sqrt(2), atol=1e-6)
    # a conversation: every message once, the last user turn twice
    chat = [us.Message(role="system", content="Be terse."), *msgs(text),
            us.Message(role="assistant", content="SELECT 1")]
    sums = [model.embed(t)[0] * len(model.tokenize(t)[0].ids)  # mean × tokens = sum
            for t in ("Be terse.", text, text, "SELECT 1")]
    pooled = np.sum(sums, axis=0)
    np.testing.assert_allclose(wl64.transform(chat)[:-1],
                               pooled / np.linalg.norm(pooled) / np.sqrt(2), atol=1e-5)


def test_similar_prompts_are_closer_than_unrelated(wl64: us.WordLlamaFeaturizer) -> None:
    sql = wl64.transform(msgs("Write a SQL query that returns the ten newest orders."))
    sql2 = wl64.transform(msgs("Give me an SQL statement selecting the latest 10 orders."))
    poem = wl64.transform(msgs("Compose a short poem about autumn leaves and rain."))
    poem2 = wl64.transform(msgs("Write a little verse about falling leaves in the fall."))
    assert sql @ sql2 > sql @ poem + 0.05
    assert poem @ poem2 > poem2 @ sql + 0.05


def test_truncation_is_a_prefix_of_the_wider_embedding(wl64: us.WordLlamaFeaturizer) -> None:
    text = "Prove that the square root of two is irrational."
    wide = us.WordLlamaFeaturizer(dim=256, bias=False).embed(text)
    narrow = wl64.embed(text)
    assert wide.shape == (256,) and narrow.shape == (63,)
    prefix = wide[:63] / np.linalg.norm(wide[:63])
    np.testing.assert_allclose(narrow, prefix, atol=1e-6)


def test_empty_text_gives_the_bias_alone(wl64: us.WordLlamaFeaturizer) -> None:
    vec = wl64.transform(msgs(""))
    expected = np.zeros(64)
    expected[-1] = 1.0
    np.testing.assert_array_equal(vec, expected)
    assert np.all(us.WordLlamaFeaturizer(dim=16, bias=False).transform(msgs("")) == 0)


@pytest.mark.parametrize("dim, bias", [(1, True), (0, False), (258, True), (257, False),
                                       (True, True), (64.0, True), (64, 1)])
def test_bad_settings_are_refused(dim: Any, bias: Any) -> None:
    with pytest.raises(us.ConfigurationError, match="WordLlamaFeaturizer"):
        us.WordLlamaFeaturizer(dim, bias=bias)


def test_router_save_load_rebuilds_it_from_the_state(tmp_path: Path, arms: us.ArmSpace,
                                                     prices: dict[str, us.Price]) -> None:
    router = us.Router(arms, prices, featurizer=us.WordLlamaFeaturizer(dim=32), seed=0)
    prompts = ["sort a list in python", "capital of peru", "integrate x^2 dx", "tell a joke"]
    for i in range(40):
        d = router.decide(prompts[i % 4])
        router.feedback(d.id, float((d.arm.n > 1) == (i % 4 in (0, 2))))
    path = tmp_path / "state.json"
    router.save(str(path))
    loaded = us.Router.load(str(path))
    assert isinstance(loaded.featurizer, us.WordLlamaFeaturizer)
    assert loaded.featurizer.config() == {"kind": "wordllama", "model": "l2_supercat",
                                          "dim": 32, "bias": True}
    for p in [*prompts, "a prompt it never saw"]:
        a, b = router.decide(p), loaded.decide(p)
        assert a.arm == b.arm
        # float32 inverses (the default): the loaded ones are re-factorised from the sums
        assert a.ucb == pytest.approx(b.ucb, rel=1e-6, abs=1e-12)
    with pytest.raises(us.FeaturizerMismatchError):
        us.Router.load(str(path), featurizer=us.WordLlamaFeaturizer(dim=64))


def test_from_config_refuses_a_foreign_config() -> None:
    with pytest.raises(us.ConfigurationError, match="not a WordLlamaFeaturizer config"):
        us.WordLlamaFeaturizer.from_config({"kind": "wordllama", "model": "l3", "dim": 64,
                                            "bias": True})


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)  # what find_spec reports as absent
    assert importlib.util.find_spec("wordllama") is None
    with pytest.raises(ImportError, match=r"pip install 'uniscale\[embeddings\]'"):
        us.WordLlamaFeaturizer()


def test_broken_install_names_the_extra_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    featurizer = us.WordLlamaFeaturizer()  # the package is there, nothing loaded yet
    real_import = builtins.__import__

    def failing_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("wordllama", "tokenizers", "safetensors"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(ImportError, match=r"pip install 'uniscale\[embeddings\]'"):
        featurizer.transform(msgs("hello"))


def test_loading_leaves_the_root_logger_alone() -> None:
    code = (
        "import logging, uniscale as us;"
        "us.WordLlamaFeaturizer().load();"
        "root = logging.getLogger(); print(len(root.handlers), root.level)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", str(logging.WARNING)]


def test_featurizers_benchmark_prints_rewards_and_timings() -> None:
    root = Path(__file__).resolve().parents[1]
    if not (root.parent / "shared" / "data" / "date_mot.jsonl.gz").exists():
        pytest.skip("the replay tables are not next to the repository (../shared/data)")
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "featurizers.py"), "--tables", "date_mot",
         "--mc", "4", "--featurizers", "wl64"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for label in ("best-fixed", "hash128", "wl64", "oracle"):
        assert any(line.split()[:1] == [label] for line in lines), (label, done.stdout)
    assert "ratio vs hash128" in done.stdout
    timing = [line.split() for line in lines if line.split()[:1] == ["wl64"]][-1]
    assert timing[-1].endswith("×")
