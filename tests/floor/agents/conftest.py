"""Fixtures for LLM turns: the scripted OpenAI-compatible server standing in for a provider."""

import pytest

from tests.fakes.openai_server import OpenAIServer


@pytest.fixture
def llm():
    with OpenAIServer() as server:
        yield server
