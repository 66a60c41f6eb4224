"""The nightly DAG: integrity without a database, its failure handling with the task functions
called directly, and a real run with `dag.test()`."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import REPO, SAMPLES

DAGS = REPO / "dags"
HEAVY = ("spacy", "duckdb", "pyarrow", "pandas", "fasttext", "matplotlib", "pipeline.stages")
ENRICH_POOL = "newsetl_enrich"
# Dummy arguments for calling each task's function outside Airflow.
TASK_ARGS: dict[str, tuple[Any, ...]] = {
    "plan": (), "parse": ("shard.json",), "enrich": ("articles.parquet",),
    "publish": (["staging/shards/0.json"], ["entities.parquet"]), "compact": ("v1",),
    "refresh_catalog": ("v1",),
    "report": ("news.duckdb",)}


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
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is False
    assert {"news-etl", "ingestion"} <= set(dag.tags)
    assert {t.task_id for t in dag.tasks} == {"plan", "parse", "enrich", "publish", "compact",
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
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    info = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(
        run_after=pendulum.datetime(2023, 2, 1, 2, tz="UTC"))
    assert info.end - info.start == timedelta(days=1)
    assert info.start.date().isoformat() == "2023-01-31"


def test_dag_files_use_only_the_authoring_api() -> None:
    """DAG code imports Airflow only from `airflow.sdk` (core modules such as
    `airflow.timetables` are internal and change between releases)."""
    for path in DAGS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith("airflow") or name.split(".")[:2] == [
                    "airflow", "sdk"], f"{path.name}:{node.lineno} imports {name}"


def test_every_task_has_an_execution_timeout(dagbag: object) -> None:
    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    for t in dag.tasks:
        assert t.execution_timeout is not None, t.task_id
        assert timedelta(minutes=5) <= t.execution_timeout <= timedelta(hours=4), t.task_id


def test_enrich_runs_in_its_pool_with_a_per_run_limit(dagbag: object) -> None:
    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    enrich = dag.get_task("enrich")
    assert enrich.pool == ENRICH_POOL
    assert enrich.max_active_tis_per_dagrun is not None and enrich.max_active_tis_per_dagrun >= 1


def test_enrich_pool_is_created_by_the_deployment() -> None:
    """Airflow queues a task of a missing pool forever: the compose init step, the README and
    the Celery test create it."""
    init = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))[
        "services"]["airflow-init"]
    script = " ".join(str(x) for key in ("entrypoint", "command")
                      for x in (init.get(key) or []))
    assert f"airflow pools set {ENRICH_POOL} " in script, script
    assert "airflow db migrate" in script or init["command"] == ["airflow", "db", "migrate"]
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Airflow", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert f"airflow pools set {ENRICH_POOL}" in section
    assert "worker_concurrency" in section and "ner_processes" in section
    celery_test = (REPO / "tests" / "test_airflow_celery.py").read_text(encoding="utf-8")
    assert ENRICH_POOL in celery_test


def test_bad_setting_is_named_in_the_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAG processor shows the setting at fault as the DAG's import error, raised from the
    DAG file (the default traceback depth shows two frames), not a traceback into pipeline/."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("NEWSETL_SHARD_FILES", "abc")
    bag = DagBag(dag_folder=str(DAGS))
    assert "news_nightly" not in bag.dags
    [(path, error)] = bag.import_errors.items()
    assert path.endswith("news_nightly.py")
    last = error.strip().splitlines()[-1]
    assert "news_nightly" in last and "shard_files" in last and "'abc'" in last, error
    assert 'news_nightly.py", line' in error, error


@contextmanager
def run_context(interval: bool = True, allow: str = "") -> Iterator[None]:
    """What Airflow hands a task: ``get_current_context()`` inside the task's function."""
    import pendulum
    from airflow.sdk.execution_time.context import set_current_context

    ctx: dict[str, Any] = {"run_id": "manual__test", "params": {"allow_checks": allow}}
    if interval:
        ctx["data_interval_start"] = pendulum.datetime(2023, 1, 31, 2, tz="UTC")
        ctx["data_interval_end"] = pendulum.datetime(2023, 2, 1, 2, tz="UTC")
    with set_current_context(ctx):  # type: ignore[arg-type]
        yield


def task_function(dagbag: object, task_id: str) -> Callable[..., Any]:
    dag = dagbag.dags["news_nightly"]  # type: ignore[attr-defined]
    return dag.get_task(task_id).python_callable  # type: ignore[no-any-return]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSETL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no ./newsetl.toml


@pytest.mark.usefixtures("clean_env")
def test_run_without_data_interval_fails_clearly(dagbag: object) -> None:
    """A manual run triggered without a logical date has no data interval: fail at once with how
    to trigger it, not a KeyError retried twice."""
    from airflow.sdk.exceptions import AirflowFailException

    for task_id in ("plan", "parse", "enrich", "publish", "compact", "report"):
        with run_context(interval=False), pytest.raises(AirflowFailException) as err:
            task_function(dagbag, task_id)(*TASK_ARGS[task_id])
        assert "data interval" in str(err.value) and "logical date" in str(err.value), task_id


DETERMINISTIC = [("pipeline.warehouse.quality", "QualityGateError"),
                 ("pipeline.stages", "PublishError"), ("pipeline.settings", "SettingsError"),
                 ("pipeline.catalog", "CatalogError")]


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(("module", "name"), DETERMINISTIC)
def test_deterministic_failures_are_not_retried(dagbag: object, monkeypatch: pytest.MonkeyPatch,
                                                module: str, name: str) -> None:
    """A retry would redo the same work to fail the same way (a quality-gate block recompacts
    the batch and reruns the archive-wide near-duplicate pass): AirflowFailException."""
    from airflow.sdk.exceptions import AirflowFailException

    error = getattr(import_module(module), name)

    def fail(*args: object, **kwargs: object) -> None:
        raise error("batch 2023-01-31 blocked: empty_body_share 1.0")

    monkeypatch.setattr("pipeline.stages.publish_batch", fail)
    monkeypatch.setattr("pipeline.catalog.views.refresh_catalog", fail)
    for task_id in ("publish", "refresh_catalog"):
        with run_context(), pytest.raises(AirflowFailException) as err:
            task_function(dagbag, task_id)(*TASK_ARGS[task_id])
        assert "empty_body_share 1.0" in str(err.value)
        assert isinstance(err.value.__cause__, error)


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(("module", "name"), [("builtins", "OSError"),
                                              ("pipeline.warehouse.storage", "BatchLockedError")])
def test_transient_failures_are_retried(dagbag: object, monkeypatch: pytest.MonkeyPatch,
                                        module: str, name: str) -> None:
    error = getattr(import_module(module), name)

    def fail(*args: object, **kwargs: object) -> None:
        raise error("disk full, or another process publishes the batch")

    monkeypatch.setattr("pipeline.stages.publish_batch", fail)
    with run_context(), pytest.raises(error):
        task_function(dagbag, "publish")(*TASK_ARGS["publish"])


@pytest.mark.usefixtures("clean_env")
def test_bad_setting_at_run_time_is_not_retried(dagbag: object,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' environment may differ from the DAG processor's: every task fails at once,
    naming the setting."""
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("NEWSETL_SHARD_FILES", "abc")
    for task_id, args in TASK_ARGS.items():
        with run_context(), pytest.raises(AirflowFailException) as err:
            task_function(dagbag, task_id)(*args)
        assert "shard_files" in str(err.value), task_id


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(("env", "expected"), [(None, 1), ("0", 1), ("3", 3)])
def test_enrich_task_runs_one_ner_process_unless_set(
        dagbag: object, monkeypatch: pytest.MonkeyPatch, env: str | None, expected: int) -> None:
    """Parallelism on Airflow comes from the mapped tasks (bounded by the pool and the worker's
    concurrency), not from forking one spaCy worker per core in every task."""
    seen: list[int] = []

    def enrich_shard(part: Path, batch: object, settings: Any) -> Path:
        seen.append(settings.ner_processes)
        return part

    if env is not None:
        monkeypatch.setenv("NEWSETL_NER_PROCESSES", env)
    monkeypatch.setattr("pipeline.stages.enrich_shard", enrich_shard)
    with run_context():
        task_function(dagbag, "enrich")("articles.parquet")
    assert seen == [expected]


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
