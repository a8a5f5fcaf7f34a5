"""A trader's knowledge graph, kept in Postgres: entities, observations about them, and relations.

The operations and field names follow the reference MCP memory server (``entityType``,
``relationType``, ``entityName`` …) so models that know it need no new vocabulary. Every graph
belongs to one trader: no function reads or writes another trader's entities. Each call is one
database transaction; bad input (an unknown entity, an empty name, oversized text) raises
:class:`MemoryRejected` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, text, tuple_
from sqlalchemy.orm import aliased

from floor.errors import FloorError
from floor.ledger.accounts import get_account
from floor.schema import memory_entities, memory_observations, memory_relations

MAX_NAME_CHARS = 200
MAX_TYPE_CHARS = 100
MAX_OBSERVATION_CHARS = 2_000
MAX_ITEMS_PER_CALL = 50
MAX_ENTITIES_PER_TRADER = 1_000
MAX_OBSERVATIONS_PER_ENTITY = 100
MAX_QUERY_CHARS = 200

# First key of the two-key advisory lock that serialises writes to one trader's graph.
MEMORY_LOCK_NAMESPACE = 4_004


class MemoryRejected(FloorError):
    """A memory operation was refused; nothing changed. Tell the agent, never retry."""


class _GraphModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class Entity(_GraphModel):
    name: str = Field(description="Unique name of the entity, e.g. 'NVDA' or 'Federal Reserve'.")
    entity_type: str = Field(alias="entityType", description="What it is, e.g. 'company', 'person'.")
    observations: list[str] = Field(default_factory=list, description="Facts about it, one per item.")


class Relation(_GraphModel):
    from_: str = Field(alias="from", description="Name of the entity the relation starts at.")
    to: str = Field(description="Name of the entity the relation ends at.")
    relation_type: str = Field(alias="relationType", description="In active voice, e.g. 'supplies'.")


class ObservationAddition(_GraphModel):
    entity_name: str = Field(alias="entityName")
    contents: list[str] = Field(description="New facts about the entity.")


class ObservationsAdded(_GraphModel):
    entity_name: str = Field(alias="entityName")
    added_observations: list[str] = Field(alias="addedObservations")


class ObservationDeletion(_GraphModel):
    entity_name: str = Field(alias="entityName")
    observations: list[str] = Field(description="Facts to remove from the entity.")


class KnowledgeGraph(_GraphModel):
    entities: list[Entity]
    relations: list[Relation]


def _clean(value: str, what: str, limit: int) -> str:
    cleaned = str(value).strip()
    if not cleaned:
        raise MemoryRejected(f"{what} is empty")
    if len(cleaned) > limit:
        raise MemoryRejected(f"{what} is {len(cleaned)} characters; at most {limit} are allowed")
    return cleaned


def _check_count(items: list, what: str) -> None:
    if not items:
        raise MemoryRejected(f"no {what} given")
    if len(items) > MAX_ITEMS_PER_CALL:
        raise MemoryRejected(f"{len(items)} {what} in one call; at most {MAX_ITEMS_PER_CALL} are allowed")


def _observations(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(_clean(v, "an observation", MAX_OBSERVATION_CHARS) for v in values))


def _writing(conn: Connection, trader: str) -> int:
    """The trader's account id, with its graph locked for writing until the transaction ends."""
    account_id = get_account(conn, trader).id
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": MEMORY_LOCK_NAMESPACE, "id": account_id}
    )
    return account_id


def _entity_ids(conn: Connection, account_id: int, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named entities; an unknown name is an error."""
    wanted = set(names)
    found = dict(
        conn.execute(
            select(memory_entities.c.name, memory_entities.c.id).where(
                memory_entities.c.account_id == account_id, memory_entities.c.name.in_(wanted)
            )
        ).all()
    )
    missing = sorted(wanted - set(found))
    if missing:
        raise MemoryRejected(f"no entity named {', '.join(repr(m) for m in missing)} in your memory")
    return found


def create_entities(engine: Engine, trader: str, entities: list[Entity]) -> list[Entity]:
    """Add entities; names already in the graph are skipped. Returns the entities created."""
    _check_count(entities, "entities")
    cleaned: dict[str, Entity] = {}
    for entity in entities:
        name = _clean(entity.name, "an entity name", MAX_NAME_CHARS)
        kind = _clean(entity.entity_type, f"the type of {name!r}", MAX_TYPE_CHARS)
        observations = _observations(entity.observations)
        if len(observations) > MAX_OBSERVATIONS_PER_ENTITY:
            raise MemoryRejected(f"{name!r} has more than {MAX_OBSERVATIONS_PER_ENTITY} observations")
        cleaned.setdefault(name, Entity(name=name, entity_type=kind, observations=observations))
    with engine.begin() as conn:
        account_id = _writing(conn, trader)
        existing = set(
            conn.execute(
                select(memory_entities.c.name).where(
                    memory_entities.c.account_id == account_id, memory_entities.c.name.in_(cleaned)
                )
            ).scalars()
        )
        new = [e for name, e in cleaned.items() if name not in existing]
        count = conn.execute(
            select(func.count())
            .select_from(memory_entities)
            .where(memory_entities.c.account_id == account_id)
        ).scalar_one()
        if count + len(new) > MAX_ENTITIES_PER_TRADER:
            raise MemoryRejected(
                f"memory holds {count} entities; at most {MAX_ENTITIES_PER_TRADER} fit: delete some first"
            )
        for entity in new:
            entity_id = conn.execute(
                insert(memory_entities)
                .values(account_id=account_id, name=entity.name, entity_type=entity.entity_type)
                .returning(memory_entities.c.id)
            ).scalar_one()
            if entity.observations:
                conn.execute(
                    insert(memory_observations),
                    [{"entity_id": entity_id, "content": o} for o in entity.observations],
                )
    return new


def _clean_relation(relation: Relation) -> tuple[str, str, str]:
    return (
        _clean(relation.from_, "a relation's 'from'", MAX_NAME_CHARS),
        _clean(relation.to, "a relation's 'to'", MAX_NAME_CHARS),
        _clean(relation.relation_type, "a relation type", MAX_TYPE_CHARS),
    )


def create_relations(engine: Engine, trader: str, relations: list[Relation]) -> list[Relation]:
    """Add relations between existing entities; ones already there are skipped. Returns the new ones."""
    _check_count(relations, "relations")
    edges = list(dict.fromkeys(_clean_relation(r) for r in relations))
    with engine.begin() as conn:
        account_id = _writing(conn, trader)
        ids = _entity_ids(conn, account_id, [name for edge in edges for name in edge[:2]])
        existing = set(
            conn.execute(
                select(memory_relations.c.from_id, memory_relations.c.to_id, memory_relations.c.relation_type)
                .where(memory_relations.c.account_id == account_id)
                .where(
                    tuple_(
                        memory_relations.c.from_id, memory_relations.c.to_id, memory_relations.c.relation_type
                    ).in_([(ids[a], ids[b], kind) for a, b, kind in edges])
                )
            ).all()
        )
        new = [(a, b, kind) for a, b, kind in edges if (ids[a], ids[b], kind) not in existing]
        if new:
            conn.execute(
                insert(memory_relations),
                [
                    {"account_id": account_id, "from_id": ids[a], "to_id": ids[b], "relation_type": kind}
                    for a, b, kind in new
                ],
            )
    return [Relation(from_=a, to=b, relation_type=kind) for a, b, kind in new]


def add_observations(
    engine: Engine, trader: str, additions: list[ObservationAddition]
) -> list[ObservationsAdded]:
    """Add facts to existing entities; facts already recorded are skipped. Returns what was added."""
    _check_count(additions, "observation additions")
    wanted: dict[str, list[str]] = {}
    for addition in additions:
        name = _clean(addition.entity_name, "an entity name", MAX_NAME_CHARS)
        contents = _observations(addition.contents)
        if not contents:
            raise MemoryRejected(f"no observations given for {name!r}")
        wanted[name] = list(dict.fromkeys(wanted.get(name, []) + contents))
    results = []
    with engine.begin() as conn:
        account_id = _writing(conn, trader)
        ids = _entity_ids(conn, account_id, wanted)
        for name, contents in wanted.items():
            have = set(
                conn.execute(
                    select(memory_observations.c.content).where(memory_observations.c.entity_id == ids[name])
                ).scalars()
            )
            added = [c for c in contents if c not in have]
            if len(have) + len(added) > MAX_OBSERVATIONS_PER_ENTITY:
                raise MemoryRejected(
                    f"{name!r} would hold more than {MAX_OBSERVATIONS_PER_ENTITY} observations; "
                    "delete some first"
                )
            if added:
                conn.execute(
                    insert(memory_observations), [{"entity_id": ids[name], "content": c} for c in added]
                )
            results.append(ObservationsAdded(entity_name=name, added_observations=added))
    return results


def delete_entities(engine: Engine, trader: str, names: list[str]) -> list[str]:
    """Remove entities with their observations and every relation touching them."""
    _check_count(names, "entity names")
    cleaned = list(dict.fromkeys(_clean(n, "an entity name", MAX_NAME_CHARS) for n in names))
    with engine.begin() as conn:
        account_id = _writing(conn, trader)
        ids = _entity_ids(conn, account_id, cleaned)
        conn.execute(delete(memory_entities).where(memory_entities.c.id.in_(ids.values())))
    return cleaned


def delete_observations(engine: Engine, trader: str, deletions: list[ObservationDeletion]) -> int:
    """Remove facts from existing entities; facts not recorded are ignored. Returns how many went."""
    _check_count(deletions, "observation deletions")
    pairs = [
        (_clean(d.entity_name, "an entity name", MAX_NAME_CHARS), _observations(d.observations))
        for d in deletions
    ]
    removed = 0
    with engine.begin() as conn:
        account_id = _writing(conn, trader)
        ids = _entity_ids(conn, account_id, [name for name, _ in pairs])
        for name, contents in pairs:
            if contents:
                removed += conn.execute(
                    delete(memory_observations).where(
                        memory_observations.c.entity_id == ids[name],
                        memory_observations.c.content.in_(contents),
                    )
                ).rowcount
    return removed


def delete_relations(engine: Engine, trader: str, relations: list[Relation]) -> int:
    """Remove relations between existing entities; relations not recorded are ignored."""
    _check_count(relations, "relations")
    edges = list(dict.fromkeys(_clean_relation(r) for r in relations))
    removed = 0
    with engine.begin() as conn:
        account_id = _writing(conn, trader)
        ids = _entity_ids(conn, account_id, [name for edge in edges for name in edge[:2]])
        for a, b, kind in edges:
            removed += conn.execute(
                delete(memory_relations).where(
                    memory_relations.c.from_id == ids[a],
                    memory_relations.c.to_id == ids[b],
                    memory_relations.c.relation_type == kind,
                )
            ).rowcount
    return removed


def _graph(conn: Connection, account_id: int, entity_filter=None) -> KnowledgeGraph:
    """Entities of the account (all, or those matching ``entity_filter``) and the relations among them."""
    query = select(memory_entities.c.id, memory_entities.c.name, memory_entities.c.entity_type).where(
        memory_entities.c.account_id == account_id
    )
    if entity_filter is not None:
        query = query.where(entity_filter)
    rows = conn.execute(query.order_by(memory_entities.c.id)).all()
    by_id = {r.id: Entity(name=r.name, entity_type=r.entity_type) for r in rows}
    if not by_id:
        return KnowledgeGraph(entities=[], relations=[])
    for entity_id, content in conn.execute(
        select(memory_observations.c.entity_id, memory_observations.c.content)
        .where(memory_observations.c.entity_id.in_(by_id))
        .order_by(memory_observations.c.id)
    ):
        by_id[entity_id].observations.append(content)
    relations = [
        Relation(from_=by_id[r.from_id].name, to=by_id[r.to_id].name, relation_type=r.relation_type)
        for r in conn.execute(
            select(memory_relations.c.from_id, memory_relations.c.to_id, memory_relations.c.relation_type)
            .where(memory_relations.c.from_id.in_(by_id), memory_relations.c.to_id.in_(by_id))
            .order_by(memory_relations.c.id)
        )
    ]
    return KnowledgeGraph(entities=list(by_id.values()), relations=relations)


def read_graph(engine: Engine, trader: str) -> KnowledgeGraph:
    """The trader's whole knowledge graph."""
    with engine.connect() as conn:
        return _graph(conn, get_account(conn, trader).id)


def search_nodes(engine: Engine, trader: str, query: str) -> KnowledgeGraph:
    """Entities whose name, type or any observation contains ``query`` (any case), with their relations."""
    needle = _clean(query, "the search query", MAX_QUERY_CHARS)
    observed = aliased(memory_observations)
    matches = or_(
        memory_entities.c.name.icontains(needle, autoescape=True),
        memory_entities.c.entity_type.icontains(needle, autoescape=True),
        select(observed.c.id)
        .where(
            and_(
                observed.c.entity_id == memory_entities.c.id,
                observed.c.content.icontains(needle, autoescape=True),
            )
        )
        .exists(),
    )
    with engine.connect() as conn:
        return _graph(conn, get_account(conn, trader).id, matches)


def open_nodes(engine: Engine, trader: str, names: list[str]) -> KnowledgeGraph:
    """The named entities (names not in the graph are left out) and the relations among them."""
    _check_count(names, "entity names")
    cleaned = [_clean(n, "an entity name", MAX_NAME_CHARS) for n in names]
    with engine.connect() as conn:
        return _graph(conn, get_account(conn, trader).id, memory_entities.c.name.in_(cleaned))
