"""UniScaleLLM inside LlamaIndex: a query engine and a FunctionAgent, offline."""

from __future__ import annotations

import pytest
import uniscale as us
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms.mock import MockLLM
from llama_index.core.tools import FunctionTool

from llama_index.llms.uniscale import UniScaleLLM

PRICES = {"a": us.Price(input=1.0, output=1.0), "b": us.Price(input=3.0, output=3.0)}
DOCS = ["Paris is the capital of France.", "Berlin is the capital of Germany.",
        "Rome is the capital of Italy."]


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@pytest.fixture
def index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents([Document(text=t) for t in DOCS],
                                           embed_model=MockEmbedding(embed_dim=8))


def test_query_engine_routes_and_track_credits_the_turn(index, scripted) -> None:
    children = {"a": scripted(answers=["Paris."]), "b": scripted(answers=["It is Paris."])}
    llm = UniScaleLLM(models=children, prices=PRICES,
                      strategies=[us.Single(), us.SelfConsistency()], n=[1, 3])
    engine = index.as_query_engine(llm=llm, similarity_top_k=len(DOCS))
    for _ in range(6):
        with llm.track() as turn:
            answer = engine.query("What is the capital of France?")
        assert str(answer) in {"Paris.", "It is Paris."}
        assert len(turn.decision_ids) == 1
        assert turn.feedback(1.0 if str(answer) == "Paris." else 0.0) == 1
    assert llm.router.stats["feedback"] == 6
    prompts = children["a"].prompts + children["b"].prompts
    assert any("Paris is the capital of France." in p for p in prompts)  # retrieved context


async def test_streaming_async_query_engine(index, scripted) -> None:
    llm = UniScaleLLM(models={"a": scripted(answers=["Rome is the one."])}, prices=PRICES)
    engine = index.as_query_engine(llm=llm, streaming=True)
    with llm.track() as turn:
        response = await engine.aquery("Capital of Italy?")
        text = "".join([t async for t in response.async_response_gen()])
    assert text == "Rome is the one."
    assert turn.feedback(1.0) == 1


def test_query_engine_with_settings_counts_tokens_once(index, scripted, clean_settings) -> None:
    counter = TokenCountingHandler()
    Settings.callback_manager = CallbackManager([counter])
    children = {"a": scripted(usage=(100, 7)), "b": MockLLM()}  # built after: they share it
    assert children["a"].callback_manager.handlers == [counter]
    Settings.llm = UniScaleLLM(models=children, prices=PRICES, arms=[
        us.Arm("a", us.SelfConsistency(), 3), us.Arm("b", us.Single(), 1)])
    engine = index.as_query_engine(similarity_top_k=1)
    calls: list[dict] = []
    for i in range(8):
        with Settings.llm.track() as turn:
            engine.query(f"Capital of Germany? ({i})")
        calls += turn.calls
        turn.feedback(0.0 if turn.calls[0]["model"] == "a" else 1.0)
    assert len(calls) == 8
    sc = [c for c in calls if c["model"] == "a"]
    assert 0 < len(sc) < 8  # both arms served
    assert len(children["a"].prompts) == 3 * len(sc)  # three samples per routed call...
    # ...each counted once by the shared handler, as the child reported it; the router
    # itself reports nothing to a handler its children already have
    sc_counts = [e for e in counter.llm_token_counts if e.prompt_token_count == 100]
    assert len(sc_counts) == 3 * len(sc)
    assert all(e.completion_token_count == 7 for e in sc_counts)
    assert len(counter.llm_token_counts) == 3 * len(sc) + (8 - len(sc))


@pytest.mark.filterwarnings(  # raised inside llama-index-workflows when it inspects the agent
    "ignore::pydantic.warnings.PydanticDeprecatedSince20",
    "ignore::pydantic.warnings.PydanticDeprecatedSince211",
)
@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_calls_tools_through_the_router(tool_llm, streaming) -> None:
    llm = UniScaleLLM(models={"a": tool_llm(), "b": tool_llm()}, prices=PRICES,
                      strategies=[us.Single(), us.SelfConsistency()], n=[1, 3])
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm,
                          streaming=streaming)
    with llm.track() as turn:
        output = await agent.run(user_msg="What is 6 times 7?")
    assert str(output) == "The answer is 42"
    assert len(turn.decision_ids) == 2  # the tool call, then the answer
    assert turn.feedback(1.0) == 2
    assert llm.router.stats["feedback"] == 2
