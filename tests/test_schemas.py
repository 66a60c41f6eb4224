"""Schemas are defined once, documented once, and what DuckDB shows is what they say."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import stages
from pipeline.catalog.docs import BEGIN, END, columns_markdown
from pipeline.catalog.sqlmodel import load_models
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.warehouse import storage
from pipeline.warehouse.schemas import PARTITION_COLUMN, TABLES, file_schema, view_schema
from tests.conftest import REPO, SAMPLES


def test_every_stored_column_is_documented_with_its_view() -> None:
    models = load_models(REPO / "sql")
    for table, schema in TABLES.items():
        assert PARTITION_COLUMN in schema.names, table
        for field in view_schema(table):
            assert field.name in models[table].columns, f"{table}.{field.name} has no doc"
            if not field.nullable:  # a required column is tested as one
                assert "not_null" in models[table].columns[field.name].tests, \
                    f"{table}.{field.name}"


def test_readme_column_reference_is_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == columns_markdown(), "run `python -m pipeline.catalog.docs --write`"


def same_type(got: pa.DataType, want: pa.DataType) -> bool:
    """Equal up to representation: DuckDB names UTC 'Etc/UTC' and may use large lists."""
    if pa.types.is_timestamp(got) and pa.types.is_timestamp(want):
        return bool(got.unit == want.unit and got.tz and want.tz)
    if (pa.types.is_list(got) or pa.types.is_large_list(got)) and pa.types.is_list(want):
        return same_type(got.value_type, want.value_type)
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got) \
            or pa.types.is_string_view(got)
    return bool(got == want)


def test_views_expose_exactly_the_schemas(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh"})
    result = stages.run_batch(readers.list_input_files(SAMPLES / "2023-02-01"),
                              date(2023, 2, 1), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    for table in TABLES:
        schema = view_schema(table)
        described = con.execute(f"DESCRIBE {table}").fetchall()
        derived = {c.name for c in load_models(REPO / "sql")[table].columns.values() if c.type}
        assert sorted(r[0] for r in described) == sorted([*schema.names, *derived]), table
        arrow_schema = con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
        for field in schema:
            got = arrow_schema.field(field.name).type
            assert same_type(got, field.type), f"{table}.{field.name}: {got} != {field.type}"


_text = st.text(max_size=50)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "source_file": _text, "member": st.none() | _text, "locator": _text, "reason": _text,
    "reason_code": _text,
    "excerpt": st.none() | _text, "run_id": _text}), max_size=20))
def test_rejects_round_trip_through_parquet(tmp_path_factory: object, rows: list[dict[str, object]]
                                            ) -> None:
    path = tmp_path_factory.mktemp("rt") / "part.parquet"  # type: ignore[attr-defined]
    storage.write_table(path, storage.rows_to_table("rejects", rows), 1000)
    back = storage.read_table(path, "rejects")
    assert back.schema.equals(file_schema("rejects"))
    assert back.to_pylist() == rows
