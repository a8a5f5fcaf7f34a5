"""The per-trader knowledge graph against a real Postgres."""

from __future__ import annotations

import pytest

from floor import memory
from floor.memory import Entity, MemoryRejected, ObservationAddition, ObservationDeletion, Relation


def seed(engine, trader="Warren"):
    memory.create_entities(
        engine,
        trader,
        [
            Entity(
                name="NVDA", entity_type="company", observations=["Makes GPUs", "Fiscal year ends in January"]
            ),
            Entity(name="TSMC", entity_type="company", observations=["Foundry in Taiwan"]),
            Entity(name="Federal Reserve", entity_type="institution"),
        ],
    )
    memory.create_relations(engine, trader, [Relation(from_="TSMC", to="NVDA", relation_type="supplies")])


def test_create_read_and_skip_existing(floor):
    seed(floor)
    again = memory.create_entities(
        floor,
        "Warren",
        [Entity(name="NVDA", entity_type="company"), Entity(name="AMD", entity_type="company")],
    )
    assert [e.name for e in again] == ["AMD"]
    again_rel = memory.create_relations(
        floor, "Warren", [Relation(from_="TSMC", to="NVDA", relation_type="supplies")]
    )
    assert again_rel == []
    graph = memory.read_graph(floor, "Warren")
    assert [e.name for e in graph.entities] == ["NVDA", "TSMC", "Federal Reserve", "AMD"]
    assert graph.entities[0].observations == ["Makes GPUs", "Fiscal year ends in January"]
    assert graph.relations == [Relation(from_="TSMC", to="NVDA", relation_type="supplies")]
    # The reference server's field names on the wire.
    dumped = graph.model_dump()
    assert dumped["entities"][0]["entityType"] == "company"
    assert dumped["relations"][0] == {"from": "TSMC", "to": "NVDA", "relationType": "supplies"}


def test_graphs_belong_to_one_trader(floor):
    seed(floor, "Warren")
    assert memory.read_graph(floor, "George").entities == []
    memory.create_entities(floor, "George", [Entity(name="NVDA", entity_type="short idea")])
    assert memory.read_graph(floor, "Warren").entities[0].entity_type == "company"
    with pytest.raises(MemoryRejected, match="no entity named 'TSMC'"):
        memory.add_observations(floor, "George", [ObservationAddition(entity_name="TSMC", contents=["x"])])
    memory.delete_entities(floor, "George", ["NVDA"])
    assert [e.name for e in memory.read_graph(floor, "Warren").entities] == [
        "NVDA",
        "TSMC",
        "Federal Reserve",
    ]


def test_add_and_delete_observations(floor):
    seed(floor)
    added = memory.add_observations(
        floor,
        "Warren",
        [ObservationAddition(entity_name="NVDA", contents=["Makes GPUs", "Data-centre revenue grew"])],
    )
    assert added[0].added_observations == ["Data-centre revenue grew"]
    removed = memory.delete_observations(
        floor, "Warren", [ObservationDeletion(entity_name="NVDA", observations=["Makes GPUs", "never said"])]
    )
    assert removed == 1
    nvda = memory.open_nodes(floor, "Warren", ["NVDA"]).entities[0]
    assert nvda.observations == ["Fiscal year ends in January", "Data-centre revenue grew"]


def test_search_open_and_delete_cascade(floor):
    seed(floor)
    found = memory.search_nodes(floor, "Warren", "taiwan")
    assert [e.name for e in found.entities] == ["TSMC"] and found.relations == []
    assert [e.name for e in memory.search_nodes(floor, "Warren", "COMPANY").entities] == ["NVDA", "TSMC"]
    assert memory.search_nodes(floor, "Warren", "100%").entities == []  # % is a literal, not a wildcard
    opened = memory.open_nodes(floor, "Warren", ["NVDA", "TSMC", "nobody"])
    assert len(opened.entities) == 2 and len(opened.relations) == 1
    memory.delete_entities(floor, "Warren", ["TSMC"])
    graph = memory.read_graph(floor, "Warren")
    assert [e.name for e in graph.entities] == ["NVDA", "Federal Reserve"] and graph.relations == []


def test_delete_relations(floor):
    seed(floor)
    assert (
        memory.delete_relations(
            floor, "Warren", [Relation(from_="TSMC", to="NVDA", relation_type="supplies")]
        )
        == 1
    )
    assert memory.read_graph(floor, "Warren").relations == []


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (
            lambda e: memory.create_entities(e, "Warren", [Entity(name="  ", entity_type="x")]),
            "entity name is empty",
        ),
        (
            lambda e: memory.create_entities(e, "Warren", [Entity(name="A", entity_type="")]),
            "type of 'A' is empty",
        ),
        (
            lambda e: memory.create_entities(e, "Warren", [Entity(name="A" * 201, entity_type="x")]),
            "at most 200",
        ),
        (
            lambda e: memory.create_entities(
                e,
                "Warren",
                [
                    Entity(name="OK", entity_type="x"),
                    Entity(name="Big", entity_type="x", observations=["y" * 2001]),
                ],
            ),
            "at most 2000",
        ),
        (lambda e: memory.create_entities(e, "Warren", []), "no entities"),
        (
            lambda e: memory.create_relations(
                e, "Warren", [Relation(from_="NVDA", to="AMD", relation_type="competes with")]
            ),
            "no entity named 'AMD'",
        ),
        (
            lambda e: memory.add_observations(
                e,
                "Warren",
                [
                    ObservationAddition(entity_name="NVDA", contents=["fine"]),
                    ObservationAddition(entity_name="Ghost", contents=["boo"]),
                ],
            ),
            "no entity named 'Ghost'",
        ),
        (lambda e: memory.delete_entities(e, "Warren", ["NVDA", "Ghost"]), "no entity named 'Ghost'"),
        (lambda e: memory.search_nodes(e, "Warren", ""), "query is empty"),
        (lambda e: memory.create_entities(e, "Nobody", [Entity(name="A", entity_type="x")]), "no account"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(floor, call, reason):
    seed(floor)
    before = memory.read_graph(floor, "Warren")
    with pytest.raises(Exception, match=reason) as info:
        call(floor)
    assert "FloorError" in [c.__name__ for c in type(info.value).__mro__]
    assert memory.read_graph(floor, "Warren") == before


def test_reset_clears_a_traders_memory(floor, settings):
    from floor.ledger.accounts import reset_accounts
    from floor.traders import load_traders

    seed(floor)
    reset_accounts(floor, load_traders(settings))
    assert memory.read_graph(floor, "Warren").entities == []


def test_concurrent_writers_never_duplicate(floor):
    from concurrent.futures import ThreadPoolExecutor

    def write(n: int) -> None:
        memory.create_entities(floor, "Warren", [Entity(name="NVDA", entity_type="company")])
        memory.add_observations(
            floor,
            "Warren",
            [ObservationAddition(entity_name="NVDA", contents=["Makes GPUs", f"writer {n % 2}"])],
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(12)))
    (nvda,) = memory.read_graph(floor, "Warren").entities
    assert sorted(nvda.observations) == ["Makes GPUs", "writer 0", "writer 1"]
