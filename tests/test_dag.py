"""The nightly DAG: integrity without a database, and a real run with `dag.test()`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, SAMPLES

DAGS = REPO / "dags"
HEAVY = ("spacy", "duckdb", "pyarrow", "pandas", "fasttext", "matplotlib", "pipeline.stages")


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSETL"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="false",
               AIRFLOW__CORE__DAGS_FOLDER=str(DAGS), AIRFLOW__CORE__UNIT_TEST_MODE="false",
               PYTHONPATH=str(REPO), **extra)
    return env


@pytest.fixture(scope="module")
def dagbag() -> object:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dags_import_cleanly(dagbag: object) -> None:
    assert dagbag.import_errors == {}  # type: ignore[attr-defined]
    assert "news_nightly" in dagbag.dags  # type: ignore[attr-defined]


def test_nightly_dag_settings(dagbag: object) -> None:
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is False
    assert {"news-etl", "ingestion"} <= set(dag.tags)
    assert {t.task_id for t in dag.tasks} == {"plan", "parse", "enrich", "publish",
                                              "refresh_catalog", "report"}
    for t in dag.tasks:
        assert t.retries >= 2, t.task_id
    mapped = {t.task_id for t in dag.tasks if t.is_mapped}
    assert mapped == {"parse", "enrich"}


def test_dag_file_has_no_heavy_top_level_imports() -> None:
    code = textwrap.dedent(f"""
        import runpy, sys
        runpy.run_path({str(DAGS / 'news_nightly.py')!r})
        print(",".join(m for m in {HEAVY!r} if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=airflow_env(Path("/nonexistent-airflow-home")))
    assert out.stdout.strip() == ""


def test_data_interval_is_one_day(dagbag: object) -> None:
    import pendulum

    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    info = dag.timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2023, 2, 1, 2, tz="UTC"))
    assert info.end - info.start == timedelta(days=1)
    assert info.start.date().isoformat() == "2023-01-31"


@pytest.mark.slow
def test_dag_run_loads_landing_folder(tmp_path: Path) -> None:
    """`dag.test()` on a tiny landing folder, then the tables are queried with DuckDB."""
    landing = tmp_path / "landing"
    (landing / "2023-01-31").mkdir(parents=True)
    for f in (SAMPLES / "2023-02-01").iterdir():  # 7 files: 5 articles, 2 rejects
        (landing / "2023-01-31" / f.name).write_bytes(f.read_bytes())
    warehouse = tmp_path / "warehouse"
    env = airflow_env(tmp_path / "airflow", NEWSETL_LANDING=str(landing),
                      NEWSETL_WAREHOUSE=str(warehouse), NEWSETL_SHARD_FILES="3")
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=env, check=True,
                   capture_output=True)
    script = textwrap.dedent(f"""
        import pendulum
        from airflow.dag_processing.dagbag import DagBag
        dag = DagBag(dag_folder={str(DAGS)!r}).dags["news_nightly"]
        run = dag.test(logical_date=pendulum.datetime(2023, 2, 1, 2, tz="UTC"))
        print("STATE", run.state)
    """)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert "STATE success" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    con = duckdb.connect(str(warehouse / "news.duckdb"), read_only=True)
    assert con.execute("SELECT batch_date::VARCHAR, records_read, articles_loaded, "
                       "records_rejected FROM runs").fetchall() == [("2023-01-31", 7, 5, 2)]
    assert con.execute("SELECT count(DISTINCT source_file) FROM articles").fetchall() == [(5,)]
    # 7 files in shards of 3: the parse and enrich tasks were mapped three times.
    assert "map_index=2" in out.stderr + out.stdout
    # The batch's HTML report, with its reconciliation figures.
    page = (warehouse / "reports" / "report-2023-01-31.html").read_text(encoding="utf-8")
    assert "2023-01-31" in page and "<svg" in page and "empty_file" in page
