"""The memory MCP server: one trader's knowledge graph, with the reference memory server's tools.

No tool takes a trader's name: every call acts for the trader its binding names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel

from floor import memory
from floor.errors import FloorError
from floor.memory import (
    Entity,
    KnowledgeGraph,
    ObservationAddition,
    ObservationDeletion,
    ObservationsAdded,
    Relation,
)
from servers.binding import BindingSource, TraderBinding, bound_tools
from servers.strict_tools import StrictFastMCP

T = TypeVar("T")


class Done(BaseModel):
    kind: str = "memory"
    message: str


# One object per result, never a bare list: a list goes out as one MCP content block per item,
# and smolagents' MCP client reads only the first block (and fails on none).
class EntitiesCreated(BaseModel):
    kind: str = "entities_created"
    created: list[Entity]


class RelationsCreated(BaseModel):
    kind: str = "relations_created"
    created: list[Relation]


class ObservationsResult(BaseModel):
    kind: str = "observations_added"
    added: list[ObservationsAdded]


def build_memory_server(source: BindingSource, **options: object) -> StrictFastMCP:
    """A FastMCP server whose tools read and write the bound trader's knowledge graph only."""
    server = StrictFastMCP("memory_server", log_level="WARNING", **options)
    tool = bound_tools(server, source)

    def _run(binding: TraderBinding, operation: Callable[..., T], *args: object) -> T:
        try:
            return operation(binding.engine, binding.trader, *args)
        except FloorError as exc:
            raise ToolError(f"Memory unchanged: {exc}") from exc

    @tool
    def create_entities(binding: TraderBinding, entities: list[Entity]) -> EntitiesCreated:
        """Create entities in your knowledge graph; names that already exist are skipped.

        Args:
            entities: Entities, each with a name, an entityType and observations (facts, may be empty).
        """
        return EntitiesCreated(created=_run(binding, memory.create_entities, entities))

    @tool
    def create_relations(binding: TraderBinding, relations: list[Relation]) -> RelationsCreated:
        """Create relations between existing entities, e.g. {from: TSMC, to: NVDA, relationType: supplies}.

        Args:
            relations: Relations, each with from, to and relationType (active voice).
        """
        return RelationsCreated(created=_run(binding, memory.create_relations, relations))

    @tool
    def add_observations(
        binding: TraderBinding, observations: list[ObservationAddition]
    ) -> ObservationsResult:
        """Add facts to existing entities; facts already recorded are skipped.

        Args:
            observations: Items with entityName and contents (the new facts).
        """
        return ObservationsResult(added=_run(binding, memory.add_observations, observations))

    @tool
    def delete_entities(binding: TraderBinding, entityNames: list[str]) -> Done:  # noqa: N803 - the reference server's name
        """Delete entities with their observations and relations.

        Args:
            entityNames: Names of the entities to delete.
        """
        deleted = _run(binding, memory.delete_entities, entityNames)
        return Done(message=f"deleted {len(deleted)} entities: {', '.join(deleted)}")

    @tool
    def delete_observations(binding: TraderBinding, deletions: list[ObservationDeletion]) -> Done:
        """Delete facts from existing entities.

        Args:
            deletions: Items with entityName and observations (the facts to remove).
        """
        return Done(message=f"deleted {_run(binding, memory.delete_observations, deletions)} observations")

    @tool
    def delete_relations(binding: TraderBinding, relations: list[Relation]) -> Done:
        """Delete relations between existing entities.

        Args:
            relations: Relations, each with from, to and relationType.
        """
        return Done(message=f"deleted {_run(binding, memory.delete_relations, relations)} relations")

    @tool
    def read_graph(binding: TraderBinding) -> KnowledgeGraph:
        """Read your whole knowledge graph: every entity with its observations, and every relation."""
        return _run(binding, memory.read_graph)

    @tool
    def search_nodes(binding: TraderBinding, query: str) -> KnowledgeGraph:
        """Find entities whose name, type or observations contain the query (any case).

        Args:
            query: Text to look for, e.g. 'semiconductor'.
        """
        return _run(binding, memory.search_nodes, query)

    @tool
    def open_nodes(binding: TraderBinding, names: list[str]) -> KnowledgeGraph:
        """Open entities by name, with the relations among them.

        Args:
            names: Entity names to open.
        """
        return _run(binding, memory.open_nodes, names)

    return server
