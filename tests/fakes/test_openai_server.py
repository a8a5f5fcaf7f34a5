"""The fake OpenAI-compatible server answers litellm as a provider would."""

from __future__ import annotations

import litellm
import pytest

from tests.fakes.openai_server import (
    OpenAIServer,
    failure,
    final_answer,
    malformed_tool_call,
    stall,
    tool_call,
)

litellm.suppress_debug_info = True


def ask(llm: OpenAIServer, model: str = "openai/gpt-4o-mini", **kwargs):
    return litellm.completion(
        model=model,
        api_base=llm.base_url,
        api_key="sk-fake-server-test",
        messages=[{"role": "user", "content": "hello"}],
        max_retries=0,
        **kwargs,
    )


def test_scripted_tool_calls_usage_and_records():
    with OpenAIServer() as llm:
        llm.script(tool_call("buy_shares", {"symbol": "AAPL", "quantity": 2}, usage=(321, 45)))
        llm.script(final_answer("done"), model="other-model")
        response = ask(llm)
        call = response.choices[0].message.tool_calls[0]
        assert call.function.name == "buy_shares"
        assert call.function.arguments == '{"symbol": "AAPL", "quantity": 2}'
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (321, 45)
        other = ask(llm, model="openai/other-model")
        assert other.choices[0].message.tool_calls[0].function.name == "final_answer"
        assert [r.model for r in llm.requests] == ["gpt-4o-mini", "other-model"]
        assert llm.requests[0].headers["Authorization"] == "Bearer sk-fake-server-test"
        assert llm.requests[0].prompt_text() == "hello"


def test_failures_and_an_exhausted_script():
    with OpenAIServer() as llm:
        llm.script(failure(401), failure(429), malformed_tool_call())
        with pytest.raises(litellm.AuthenticationError):
            ask(llm)
        with pytest.raises(litellm.RateLimitError):
            ask(llm)
        bad = ask(llm).choices[0].message.tool_calls[0]
        assert bad.function.arguments == '{"symbol": "AAPL", "quant'
        with pytest.raises(litellm.InternalServerError, match="script exhausted"):
            ask(llm)
        assert [r.status for r in llm.requests] == [401, 429, 200, 500]


def test_a_stalled_answer_times_the_client_out():
    with OpenAIServer() as llm:
        llm.script(stall(3))
        with pytest.raises(litellm.Timeout):
            ask(llm, timeout=0.5)


def test_counted_prompt_tokens_grow_with_the_prompt():
    with OpenAIServer(default=final_answer("ok"), prompt_tokens="count") as llm:
        short = ask(llm).usage.prompt_tokens
        long = litellm.completion(
            model="openai/gpt-4o-mini",
            api_base=llm.base_url,
            api_key="sk-x",
            messages=[{"role": "user", "content": "hello " * 200}],
            max_retries=0,
        ).usage.prompt_tokens
        assert 0 < short < long
