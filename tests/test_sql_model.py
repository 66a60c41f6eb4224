"""The SQL model: every view documented in sql/models.yml, its data tests passing on the demo
warehouse, its figures recomputed independently from the Parquet files, partitions pruned."""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.catalog import sqlmodel
from pipeline.catalog.docs import duckdb_type
from pipeline.cli import main
from pipeline.settings import Settings
from pipeline.warehouse.schemas import TABLES, empty_table, view_schema
from tests.conftest import REPO

SQL = REPO / "sql"


@pytest.fixture
def con(demo_warehouse: Settings) -> Any:
    connection = duckdb.connect(str(demo_warehouse.warehouse / "news.duckdb"), read_only=True)
    yield connection
    connection.close()


def table(settings: Settings, name: str) -> list[dict[str, Any]]:
    """A warehouse table read straight from its Parquet files, without DuckDB or the views."""
    rows = ds.dataset(settings.warehouse / name, format="parquet",
                      partitioning="hive").to_table().to_pylist()
    for row in rows:
        row["batch_date"] = date.fromisoformat(str(row["batch_date"]))
    return rows


def publication_day(local: str | None) -> date | None:
    if not local:
        return None
    text = {4: local + "-01-01", 7: local + "-01"}.get(len(local), local[:10])
    return date.fromisoformat(text)


def test_models_file_documents_every_view_and_column(con: Any) -> None:
    models = sqlmodel.load_models(SQL)
    assert sqlmodel.documentation_gaps(con, models) == []
    actual = sqlmodel.view_columns(con)
    assert set(actual) == set(models)
    for name in TABLES:  # storage columns show in DuckDB with the type the docs print
        types = dict(actual[name])
        for field in view_schema(name):
            assert types[field.name] == duckdb_type(field.type), f"{name}.{field.name}"


def test_data_tests_pass_on_the_demo_warehouse(con: Any) -> None:
    tests = sqlmodel.compile_tests(sqlmodel.load_models(SQL))
    kinds = Counter(t.name.split("(")[0] for t in tests)
    assert {"not_null", "unique", "accepted_values", "relationships", "expression"} <= set(kinds)
    assert {t.view for t in tests} == set(sqlmodel.load_models(SQL))  # every view is tested
    results = sqlmodel.run_tests(con, tests)
    failing = [(r.test.view, r.test.name, r.status, r.failures, r.error) for r in results
               if r.status != "pass"]
    assert failing == []
    # Not vacuous: the demo has rows in every view the tests read.
    for view in sqlmodel.load_models(SQL):
        assert con.execute(f'SELECT count(*) FROM "{view}"').fetchone()[0] > 0, view


def test_each_kind_of_data_test_catches_its_violation(tmp_path: Path) -> None:
    (tmp_path / "models.yml").write_text("""
views:
  parent:
    description: Parents.
    columns:
      id: {description: Key., tests: [not_null, unique]}
      status: {description: State., tests: [{accepted_values: [ok, late]}]}
      score: {description: Score., tests: [{range: [0, 1]}]}
  child:
    description: Children.
    tests:
      - relationships: {columns: [parent_id], to: parent, fields: [id]}
      - relationships: {columns: [parent_id], to: parent, fields: [id], severity: warn}
      - expression: n > 0
      - unique: {columns: [parent_id], where: n > 1}
      - expression: no_such_column = 1
    columns:
      parent_id: {description: Parent.}
      n: {description: Count.}
""", encoding="utf-8")
    mem = duckdb.connect()
    mem.execute("CREATE TABLE parent AS SELECT * FROM (VALUES (1, 'ok', 0.5), (1, 'bad', 2.0), "
                "(NULL, 'late', 0.0)) AS t(id, status, score)")
    mem.execute("CREATE TABLE child AS SELECT * FROM (VALUES (1, 2), (3, 5), (3, 6), (3, 0), "
                "(NULL, 1)) AS t(parent_id, n)")
    results = {r.test.name + ("/warn" if r.test.severity == "warn" else ""): r
               for r in sqlmodel.run_tests(mem, sqlmodel.compile_tests(
                   sqlmodel.load_models(tmp_path)))}
    summary = {name: (r.status, r.failures) for name, r in results.items()}
    assert summary == {
        "not_null(id)": ("fail", 1),
        "unique(id)": ("fail", 1),
        "accepted_values(status)": ("fail", 1),
        "range(score, 0, 1)": ("fail", 1),
        "relationships(parent_id -> parent(id))": ("fail", 3),
        "relationships(parent_id -> parent(id))/warn": ("warn", 3),
        "expression(n > 0)": ("fail", 1),
        "unique(parent_id) where n > 1": ("fail", 1),
        "expression(no_such_column = 1)": ("error", 0),
    }
    assert "no_such_column" in (results["expression(no_such_column = 1)"].error or "")


def test_undocumented_columns_are_reported(tmp_path: Path) -> None:
    (tmp_path / "models.yml").write_text(
        "views:\n  t:\n    description: T.\n    columns:\n"
        "      a: {description: A., type: INTEGER}\n      gone: {description: G.}\n",
        encoding="utf-8")
    mem = duckdb.connect()
    mem.execute("CREATE VIEW t AS SELECT 'x' AS a, 2 AS b")
    mem.execute("CREATE VIEW u AS SELECT 1 AS c")
    gaps = sqlmodel.documentation_gaps(mem, sqlmodel.load_models(tmp_path))
    assert sorted(gaps) == sorted([
        "view u is not documented", "t.b is not documented",
        "t.gone is documented but not in the view", "t.a is VARCHAR, documented as INTEGER"])


def first_deliveries(articles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for row in sorted(articles, key=lambda r: r["batch_date"]):
        first.setdefault(row["article_id"], row)
    return first


def mentions_daily(settings: Settings) -> dict[tuple[Any, ...], list[int]]:
    """entity_mentions_daily recomputed in Python from the entities and articles files:
    (day, day_precision, label, norm) -> [mentions, articles, stories]."""
    first = first_deliveries(table(settings, "articles"))
    expected: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, set(), set()])
    for ent in table(settings, "entities"):
        art = first[ent["article_id"]]
        if art["batch_date"] != ent["batch_date"] or not art["published_local"]:
            continue  # a re-delivery, or an undated article
        precision = art["published_precision"]
        key = (publication_day(art["published_local"]),
               "day" if precision in ("day", "minute", "second") else precision,
               ent["label"], ent["norm"] or ent["text"])
        expected[key][0] += 1
        expected[key][1].add(art["article_id"])
        expected[key][2].add(art["duplicate_cluster_id"])
    return {k: [v[0], len(v[1]), len(v[2])] for k, v in expected.items()}


def view_rows(con: Any, view: str, columns: int = 4) -> dict[tuple[Any, ...], list[Any]]:
    rows = con.execute(f'SELECT * FROM "{view}"').fetchall()
    return {tuple(r[:columns]): list(r[columns:]) for r in rows}


def test_entity_mentions_daily_recomputed_from_parquet(demo_warehouse: Settings,
                                                       con: Any) -> None:
    got = view_rows(con, "entity_mentions_daily")
    assert got == mentions_daily(demo_warehouse)
    # The seed article is delivered twice (2023-01-31 and 2023-02-02) and counts once.
    seed = got[(date(2023, 1, 1), "month", "PER", "Jens Stoltenberg")]
    assert seed[1] == 1


def test_norm_groups_mentions_of_one_entity(con: Any) -> None:
    norms = dict(con.execute("SELECT text, norm FROM entities WHERE label IN ('PER', 'LOC')")
                 .fetchall())
    assert norms["Stoltenberg"] == "Jens Stoltenberg"
    assert norms["Nordkoreas"] == "Nordkorea"


def test_entity_cooccurrence_recomputed_from_parquet(demo_warehouse: Settings,
                                                     con: Any) -> None:
    first = first_deliveries(table(demo_warehouse, "articles"))
    named: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for ent in table(demo_warehouse, "entities"):
        if first[ent["article_id"]]["batch_date"] == ent["batch_date"]:
            named[ent["article_id"]].add((ent["label"], ent["norm"] or ent["text"]))
    expected: Counter[tuple[str, str, str, str]] = Counter()
    for names in named.values():
        for a in names:
            for b in names - {a}:
                expected[(*a, *b)] += 1
    got = {tuple(r[:4]): r[4] for r in con.execute(
        "SELECT label, norm, other_label, other_norm, articles FROM entity_cooccurrence")
        .fetchall()}
    assert got == dict(expected)
    assert ("PER", "Jens Stoltenberg", "ORG", "NATO") in got


def test_sources_recomputed_from_parquet(demo_warehouse: Settings, con: Any) -> None:
    articles = table(demo_warehouse, "articles")
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in articles:
        by_source[row["source_domain"] or row["site_name"] or "(unknown)"].append(row)
    got = {r[0]: r[1:] for r in con.execute(
        "SELECT source, articles, distinct_articles, first_batch, last_batch, main_language, "
        "median_words FROM sources").fetchall()}
    assert set(got) == set(by_source)
    for source, rows in by_source.items():
        words = sorted(r["word_count"] for r in rows)
        mid = len(words) // 2
        median = words[mid] if len(words) % 2 else (words[mid - 1] + words[mid]) / 2
        languages = Counter(r["language"] or "?" for r in rows)
        top = max(sorted(languages), key=lambda lang: languages[lang])
        assert got[source] == (len(rows), len({r["article_id"] for r in rows}),
                               min(r["batch_date"] for r in rows),
                               max(r["batch_date"] for r in rows), top, median), source


def test_view_files_follow_import_renamed_final() -> None:
    documented = set(sqlmodel.load_models(SQL))
    defined = []
    for path in sorted((SQL / "views").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        views = re.findall(r"CREATE OR REPLACE VIEW (\w+) AS\s*\n(\w+)", text)
        if path.name.startswith("00_"):
            assert not views, "macros only"
            continue
        assert len(views) == 1, f"{path.name}: one view per file"
        (name, first_word), = views
        assert path.stem.split("_", 1)[1] == name, path.name
        assert first_word == "WITH", f"{path.name}: starts with import CTEs"
        defined.append(name)
    assert set(defined) == documented


def files_read(con: Any, sql: str) -> list[int]:
    """Files read by each Parquet scan of ``sql``, sorted (the plan's order of scans varies)."""
    plan = con.execute("EXPLAIN ANALYZE " + sql).fetchall()[0][1]
    return sorted(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan))


def test_partition_pruning_reads_only_the_filtered_batches(con: Any) -> None:
    batches = [r[0] for r in con.execute("SELECT DISTINCT batch_date FROM articles ORDER BY 1")
               .fetchall()]
    assert len(batches) == 4
    # (Columns are read so the plan scans files: count(*) alone is answered from metadata.)
    # Two scans: the open days' partitions, then the compacted months' files (here only the
    # zero-row file that keeps the month glob bound).
    assert files_read(con, "SELECT count(title) FROM articles") == [1, 4]
    assert files_read(con, "SELECT count(title) FROM articles WHERE batch_date BETWEEN "
                      "DATE '2023-02-01' AND DATE '2023-02-02'") == [1, 2]
    assert files_read(con, "SELECT count(text) FROM entities WHERE batch_date = "
                      "DATE '2023-02-03'") == [1, 1]


def test_validate_command_passes_then_catches_orphan_entities(demo_warehouse: Settings,
                                                              tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "--warehouse", str(demo_warehouse.warehouse)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output and "documentation complete" in result.output

    copy = tmp_path / "warehouse"
    shutil.copytree(demo_warehouse.warehouse, copy, symlinks=True)
    (article_file,) = (copy / "articles" / "batch_date=2023-02-03").glob("*.parquet")
    pq.write_table(empty_table("articles"), article_file.resolve())  # entities lose articles
    result = CliRunner().invoke(main, ["validate", "--warehouse", str(copy)])
    assert result.exit_code == 1
    assert "relationships(article_id, batch_date -> articles(article_id, batch_date))" \
        in result.output
