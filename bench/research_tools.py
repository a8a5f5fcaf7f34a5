"""What the researcher's tools cost: page fetch and knowledge-graph queries.

(Opening a turn's servers, the tool service over HTTP against stdio spawns, is bench/tool_open.py.)

1. Fetching a ~300 KB article page from a loopback server and keeping its readable text.
2. One trader's knowledge graph with 1,000 entities (3 observations each) and 500 relations:
   search_nodes, open_nodes, read_graph, and a 50-entity create_entities.

    python bench/research_tools.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def article(paragraphs: int) -> str:
    nav = "<nav>" + "".join(f"<a href='/s{i}'>Section {i}</a>" for i in range(200)) + "</nav>"
    script = "<script>" + "var x = 1;" * 5000 + "</script>"
    body = "".join(
        f"<p>Paragraph {i}: the company reported <b>revenue</b> growth and steady margins.</p>"
        for i in range(paragraphs)
    )
    head = f"<head><title>Bench</title>{script}</head>"
    return f"<html>{head}<body>{nav}<main><h1>Report</h1>{body}</main></body></html>"


def bench_fetch(repeat: int) -> None:
    from floor.research.page_fetch import fetch_page, readable_text
    from tests.fakes.web_server import WebServer

    page = article(3000)
    print(f"\n1. Fetch a {len(page) / 1024:.0f} KB article page from loopback, keep its readable text")
    with WebServer() as web:
        web.page("/article", page)
        url = web.url("/article")
        fetched = fetch_page(url, max_chars=20_000, timeout=10, allow_private=True)
        full = median_time(lambda: fetch_page(url, max_chars=20_000, timeout=10, allow_private=True), repeat)
    extract = median_time(lambda: readable_text(page), repeat)
    print(f"fetch + extract: {full * 1000:.0f} ms; extract alone: {extract * 1000:.0f} ms")
    print(f"text kept: {len(fetched.text):,} characters (cap 20,000), truncated={fetched.truncated}")


def bench_memory(engine, repeat: int) -> None:
    from floor import memory
    from floor.memory import Entity, Relation

    for start in range(0, 1000, 50):
        memory.create_entities(
            engine,
            "Warren",
            [
                Entity(
                    name=f"Company {i}",
                    entity_type="company",
                    observations=[f"Sector {i % 11}", f"Founded {1900 + i % 120}", f"Ticker T{i}"],
                )
                for i in range(start, start + 50)
            ],
        )
    for start in range(0, 500, 50):
        memory.create_relations(
            engine,
            "Warren",
            [
                Relation(from_=f"Company {i}", to=f"Company {(i * 7 + 1) % 1000}", relation_type="supplies")
                for i in range(start, start + 50)
            ],
        )
    counter = iter(range(10_000))

    def create_batch():
        n = next(counter)
        memory.create_entities(
            engine, "George", [Entity(name=f"Idea {n}-{i}", entity_type="idea") for i in range(50)]
        )

    print("\n2. Knowledge graph of 1,000 entities x 3 observations, 500 relations (one trader)")
    rows = [
        ("search_nodes('Sector 7')", lambda: memory.search_nodes(engine, "Warren", "Sector 7")),
        (
            "open_nodes(5 names)",
            lambda: memory.open_nodes(engine, "Warren", [f"Company {i}" for i in range(5)]),
        ),
        ("read_graph()", lambda: memory.read_graph(engine, "Warren")),
        ("create_entities(50)", create_batch),
    ]
    found = len(memory.search_nodes(engine, "Warren", "Sector 7").entities)
    for label, fn in rows:
        print(f"{label:<28} {median_time(fn, repeat) * 1000:>7.1f} ms")
    print(f"(search_nodes matched {found} entities)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from floor.database import create_floor_engine, migrate, sqlalchemy_url, start_embedded_postgres
    from floor.ledger.accounts import reset_accounts
    from floor.settings import Settings
    from floor.traders import load_traders

    with tempfile.TemporaryDirectory() as tmp:
        url = sqlalchemy_url(start_embedded_postgres(Path(tmp) / "pg"))
        os.environ["DATABASE_URL"] = url
        settings = Settings(_env_file=None, database_url=url)
        engine = create_floor_engine(url)
        migrate(engine)
        reset_accounts(engine, load_traders(settings))
        bench_fetch(args.repeat)
        bench_memory(engine, args.repeat)
        engine.dispose()


if __name__ == "__main__":
    main()
