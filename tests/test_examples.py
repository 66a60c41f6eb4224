"""The canonical example queries of sql/examples/, run through `newsetl query` on the demo
warehouse, each checked against the same question answered from the Parquet files directly."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.settings import Settings
from tests.conftest import REPO
from tests.test_sql_model import first_deliveries, publication_day, table

EXAMPLES = REPO / "sql" / "examples"


def run_example(settings: Settings, name: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["query", "--warehouse", str(settings.warehouse),
                                       "--format", "json", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def mentions(settings: Settings) -> list[dict[str, Any]]:
    """Entity rows of each article's first delivery, with the article's publication day."""
    first = first_deliveries(table(settings, "articles"))
    out = []
    for ent in table(settings, "entities"):
        art = first[ent["article_id"]]
        if art["batch_date"] == ent["batch_date"]:
            out.append({**ent, "day": publication_day(art["published_local"]),
                        "story": art["duplicate_cluster_id"]})
    return out


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.sql")), ids=lambda p: p.name)
def test_every_example_runs_as_a_table(demo_warehouse: Settings, path: Path) -> None:
    result = CliRunner().invoke(main, ["query", "--warehouse", str(demo_warehouse.warehouse),
                                       str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    count = int(lines[-1].strip("()").split()[0])
    assert count > 0 and len(lines) == count + 3  # header, rule, rows, count
    assert path.read_text(encoding="utf-8").startswith("-- "), "says what it answers"


def test_top_entities_of_a_month(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "top_entities_of_month.sql")
    counts: Counter[tuple[str, str]] = Counter()
    articles: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in mentions(demo_warehouse):
        if m["day"] and date(2023, 1, 1) <= m["day"] < date(2023, 2, 1):
            key = (m["label"], m["norm"])
            counts[key] += 1
            articles[key].add(m["article_id"])
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1]))[:10]
    assert [(r["label"], r["entity"], r["mentions"]) for r in got] == \
        [(label, norm, n) for (label, norm), n in expected]
    assert got[0]["articles"] == len(articles[(got[0]["label"], got[0]["entity"])])
    assert {"Südkorea", "Jens Stoltenberg"} <= {r["entity"] for r in got}


def test_an_entity_over_time(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "entity_over_time.sql")
    per_month: Counter[date] = Counter()
    for m in mentions(demo_warehouse):
        if (m["label"], m["norm"]) == ("LOC", "USA"):
            per_month[m["day"].replace(day=1)] += 1
    assert [(date.fromisoformat(r["month"]), r["mentions"]) for r in got] == \
        sorted(per_month.items())
    assert len(got) >= 2


def test_who_is_named_with_a_person(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "cooccurring_with_person.sql")
    by_article: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in mentions(demo_warehouse):
        by_article[m["article_id"]].add((m["label"], m["norm"]))
    together: Counter[tuple[str, str]] = Counter()
    for names in by_article.values():
        if ("PER", "Jens Stoltenberg") in names:
            together.update(names - {("PER", "Jens Stoltenberg")})
    expected = sorted(together.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [((r["label"], r["named_with"]), r["articles"]) for r in got] == expected
    assert len(together) >= len(got) == 10


def test_articles_per_source_per_day(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "articles_per_source_per_day.sql")
    expected: Counter[tuple[str, str]] = Counter()
    for a in table(demo_warehouse, "articles"):
        if a["published_precision"] in ("day", "minute", "second"):
            source = a["source_domain"] or a["site_name"] or "(unknown)"
            expected[(source, a["published_local"][:10])] += 1
    assert {(r["source"], r["published_day"]): r["articles"] for r in got} == dict(expected)
    assert [r["published_day"] for r in got] == sorted(r["published_day"] for r in got)


def test_what_a_days_run_loaded_and_rejected(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "run_of_day.sql")
    (read,) = [r for r in got if r["outcome"] == "read"]
    loaded = [r for r in got if r["outcome"] == "loaded"]
    rejected = {r["detail"]: r["records"] for r in got if r["outcome"] == "rejected"}
    day = date(2023, 2, 1)
    articles = [a for a in table(demo_warehouse, "articles") if a["batch_date"] == day]
    rejects = [r for r in table(demo_warehouse, "rejects") if r["batch_date"] == day]
    assert rejected == dict(Counter(r["reason_code"] for r in rejects))
    assert {r["detail"]: r["records"] for r in loaded} == dict(Counter(a["format"]
                                                                       for a in articles))
    assert read["records"] == len(articles) + len(rejects) == 7
    assert {"empty_file", "duplicate"} <= set(rejected)


def country_mentions(settings: Settings) -> list[tuple[str, date, str | None, str]]:
    """(country, publication day, date precision, article) of each place resolved to a country
    or a place in it, in each article's first delivery."""
    first = first_deliveries(table(settings, "articles"))
    out = []
    for p in table(settings, "places"):
        art = first[p["article_id"]]
        day = publication_day(art["published_local"])
        if p["country_code"] and art["batch_date"] == p["batch_date"] and day:
            out.append((p["country_code"], day, art["published_precision"], p["article_id"]))
    return out


def test_a_country_over_time(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "country_over_time.sql")
    per_month: Counter[date] = Counter(day.replace(day=1) for code, day, _, _
                                       in country_mentions(demo_warehouse) if code == "US")
    assert [(date.fromisoformat(r["month"]), r["mentions"]) for r in got] == \
        sorted(per_month.items())
    assert len(got) >= 2


def test_countries_of_the_week(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "countries_of_the_week.sql")
    week = (date(2023, 1, 30), date(2023, 2, 6))  # Monday to Monday around 2023-01-31
    counts: Counter[str] = Counter()
    articles: dict[str, set[str]] = defaultdict(set)
    for code, day, precision, article in country_mentions(demo_warehouse):
        if precision in ("day", "minute", "second") and week[0] <= day < week[1]:
            counts[code] += 1
            articles[code].add(article)
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert [(r["country_code"], r["mentions"]) for r in got] == expected
    assert all(r["articles"] == len(articles[r["country_code"]]) for r in got)
    assert {"GB", "US"} <= {r["country_code"] for r in got}


def readme_queries() -> list[tuple[str, str]]:
    """(sql, printed output) pairs of the README's "Query the warehouse" section."""
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Query the warehouse"):text.index("### Tables and columns")]
    return re.findall(r"```sql\n(.*?)```\n```\n(.*?)```", section, flags=re.S)


def test_readme_queries_print_what_the_readme_shows(demo_warehouse: Settings) -> None:
    pairs = readme_queries()
    assert len(pairs) >= 5
    for sql, shown in pairs:
        result = CliRunner().invoke(main, ["query", "--warehouse", str(demo_warehouse.warehouse),
                                           " ".join(sql.split())])
        assert result.exit_code == 0, result.output
        assert result.output == shown, sql


def test_top_entities_by_language(demo_warehouse: Settings) -> None:
    got = run_example(demo_warehouse, "top_entities_by_language.sql")
    language = {(a["article_id"], a["batch_date"]): a["language"]
                for a in table(demo_warehouse, "articles")}
    counts: Counter[tuple[str, str, str]] = Counter()
    for e in table(demo_warehouse, "entities"):
        counts[(language[(e["article_id"], e["batch_date"])], e["label"], e["norm"])] += 1
    expected = []
    for lang in sorted({k[0] for k in counts}):
        ranked = sorted(((n, k) for k, n in counts.items() if k[0] == lang),
                        key=lambda item: (-item[0], item[1][2]))[:5]
        expected += [(lang, k[1], k[2], n) for n, k in ranked]
    assert [(r["language"], r["label"], r["entity"], r["mentions"]) for r in got] == expected
