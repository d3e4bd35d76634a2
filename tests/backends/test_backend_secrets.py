"""The API key stays in the SDK client: no repr, log line, state file or error holds it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import uniscale as us
from uniscale.backends import AnthropicBackend, OpenAIBackend
from uniscale.testing.loopback import error

SECRET = "sk-test-DO-NOT-LEAK-1234567890"


def test_api_key_never_leaks(server, prices, tmp_path: Path,
                             caplog: pytest.LogCaptureFixture) -> None:
    backends = {
        "gpt": OpenAIBackend("gpt-loop", api_key=SECRET, base_url=server.openai_url,
                             timeout=2.0, max_retries=0),
        "claude": AnthropicBackend("claude-loop", api_key=SECRET,
                                   base_url=server.anthropic_url, timeout=2.0,
                                   max_retries=0),
    }
    log = tmp_path / "decisions.jsonl"
    router = us.Router([us.Arm("gpt", us.Single()), us.Arm("claude", us.Single())], prices,
                       backends=backends, fallback=[us.Arm("claude", us.Single())],
                       log=str(log))
    seen: list[str] = [repr(b) for b in backends.values()] + [str(b) for b in
                                                                backends.values()]
    with caplog.at_level(logging.DEBUG):
        result = router.invoke("What is 6 * 7?", allowed=[us.Arm("gpt", us.Single())])
        seen += [result.text, repr(result), *result.errors]
        server.default = error(401)
        with pytest.raises(us.UniScaleError) as caught:
            router.invoke("What is 6 * 7?")
    seen += [str(caught.value), repr(caught.value),
             *(repr(e) for e in getattr(caught.value, "errors", []))]
    seen += [r.getMessage() for r in caplog.records]
    router.save(str(tmp_path / "state.json"))
    router.save(str(tmp_path / "state.npz"))
    seen += [(tmp_path / "state.json").read_text(),
             (tmp_path / "state.npz").read_bytes().decode("latin-1"), log.read_text()]
    assert all(SECRET not in text for text in seen)
    assert any(r.api == "openai" and SECRET in {k.lower(): v for k, v in r.headers.items()}
               .get("authorization", "") for r in server.requests)  # it authenticated
