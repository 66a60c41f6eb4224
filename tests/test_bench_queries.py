"""The benchmark's canonical-query step runs the shipped examples with the warehouse's own top
month and entity set in their variables (no timing is asserted)."""

from __future__ import annotations

from collections import Counter

from pipeline.settings import Settings
from tests.test_sql_model import mentions_daily


def test_canonical_queries_set_the_warehouses_top_month_and_entity(
        demo_warehouse: Settings) -> None:
    from bench.throughput import canonical_queries

    months: Counter[str] = Counter()
    entities: Counter[str] = Counter()
    for (day, _, label, norm), (mentions, _, _) in mentions_daily(demo_warehouse).items():
        months[f"{day:%Y-%m}"] += mentions
        entities[f"{norm} ({label})"] += mentions
    medians, values = canonical_queries(demo_warehouse.warehouse, repeats=1)
    assert set(medians) == {"top_entities_of_month.sql", "entity_over_time.sql"}
    assert months[values["month"]] == max(months.values())
    assert entities[values["entity"]] == max(entities.values())
