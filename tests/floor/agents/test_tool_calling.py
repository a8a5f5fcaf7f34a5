"""The floor's ToolCallingAgent sends the model exactly what smolagents' own would."""

from __future__ import annotations

from smolagents import ToolCallingAgent, tool

from floor.agents.offline_model import OfflineStrategyModel
from floor.agents.tool_calling import FloorToolCallingAgent


@tool
def get_quote(symbol: str) -> str:
    """A quote.

    Args:
        symbol: The ticker.
    """
    return symbol


def agents(**options):
    model = OfflineStrategyModel("value")
    return (
        ToolCallingAgent(tools=[get_quote], model=model, **options),
        FloorToolCallingAgent(tools=[get_quote], model=model, **options),
    )


def test_the_system_prompt_is_smolagents_own_with_and_without_instructions():
    for options in ({}, {"instructions": "Buy {{ low }}, sell high: {% raw %}{x}{% endraw %}."}):
        theirs, ours = agents(**options)
        assert ours.system_prompt == theirs.system_prompt
        assert ours.prompt_templates == theirs.prompt_templates


def test_each_agent_has_its_own_templates_to_change():
    first, second = agents()[1], agents()[1]
    first.prompt_templates["managed_agent"] = {"task": "mine", "report": "mine"}
    assert second.prompt_templates["managed_agent"]["task"] != "mine"
