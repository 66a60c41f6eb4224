"""Nightly ingestion of the news dumps that landed during the run's data interval.

Landing layout: ``$NEWSETL_LANDING/YYYY-MM-DD/<any files or folders>``; the run for the data
interval ``[start, end)`` reads the day folders ``start.date() <= day < end.date()`` and publishes
them as the batch ``batch_date = start.date()``. A run needs a data interval: trigger it with a
logical date (``airflow dags trigger news_nightly -l 2023-02-01T02:00:00+00:00`` loads batch
2023-01-31). Parsing and enrichment are mapped over shards of files, so they spread over the
workers; only paths travel through XCom. Every task calls one function of ``pipeline``; heavy
imports happen inside the tasks, never at parse time. After the publish, months before the
batch's are compacted into month files (``pipeline.warehouse.compaction``: on most nights there
is nothing to do). The last task writes the batch's HTML report to
``<warehouse>/reports/report-<batch_date>.html``.

Sizing: ``enrich`` runs in the pool ``newsetl_enrich`` (create it before unpausing: ``airflow
pools set newsetl_enrich 8 "news-etl NER tasks"``), at most 4 tasks at once per run, each with
``ner_processes`` spaCy processes (0, the default, means 1 here, not one per core). A Celery
worker runs up to ``worker_concurrency`` tasks: keep ``ner_processes`` x min(pool slots,
``worker_concurrency``) <= the worker's cores.

Failures: a quality-gate block, a bad setting, a publish, catalog or report error fails the task
at once (a retry would redo the same work and fail the same way); other errors (I/O, a batch
locked by another publisher, a timeout) are retried twice with backoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from pipeline.settings import Settings, SettingsError

ENRICH_POOL = "newsetl_enrich"
ENRICH_PER_RUN = 4
"""Enrich tasks one run may hold at once, so a backfill run leaves pool slots to the nightly."""


@contextmanager
def _fail_fast() -> Iterator[None]:
    """Deterministic pipeline errors become ``AirflowFailException`` (no retry): a retried
    quality-gate block would recompact the batch and rerun the archive-wide near-duplicate pass
    only to be blocked again."""
    from pipeline.batch.common import PublishError
    from pipeline.catalog.views import CatalogError
    from pipeline.report import ReportError
    from pipeline.warehouse.quality import QualityGateError

    try:
        yield
    except (QualityGateError, SettingsError, PublishError, CatalogError, ReportError) as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def _batch() -> tuple[pendulum.Date, pendulum.Date]:
    """The data interval as dates: the batch key (never the wall clock)."""
    ctx = get_current_context()
    start, end = ctx.get("data_interval_start"), ctx.get("data_interval_end")
    if start is None or end is None:
        raise AirflowFailException(
            f"run {ctx.get('run_id')} has no data interval (triggered without a logical date), "
            "and this DAG loads the batch of its data interval: trigger it with a logical date, "
            "e.g. `airflow dags trigger news_nightly -l 2023-02-01T02:00:00+00:00` for batch "
            "2023-01-31 (the interval ends at the logical date)")
    return start.date(), end.date()


def _parse_time_settings() -> Settings:
    """The settings the DAG needs to be defined (its schedule). A bad value becomes the DAG's
    import error, raised here and led by the setting at fault."""
    try:
        return Settings.load()
    except ValueError as exc:  # SettingsError; a TOML syntax error is a ValueError too
        raise SettingsError(f"news_nightly not loaded, a setting is invalid: {exc}") from None


@dag(
    dag_id="news_nightly",
    schedule=CronDataIntervalTimetable(_parse_time_settings().schedule, timezone="UTC"),
    start_date=pendulum.datetime(2023, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2),
                  "retry_exponential_backoff": True, "owner": "news-etl",
                  "execution_timeout": timedelta(hours=1)},
    tags=["news-etl", "ingestion"],
    params={"allow_checks": Param("", type="string", description="Quality checks allowed to "
                                  "fail for this run, comma-separated (operator override).")},
    doc_md=__doc__,
)
def news_nightly() -> None:
    @task(execution_timeout=timedelta(minutes=30))
    def plan() -> list[str]:
        from pipeline import stages
        from pipeline.ingest import readers

        with _fail_fast():
            start, end = _batch()
            settings = Settings.load()
            plan = stages.plan_batch(readers.landing_files(settings.landing, start, end), start,
                                     settings)
        return [str(shard) for shard in plan.shards]

    @task(execution_timeout=timedelta(hours=2))
    def parse(shard: str) -> str:
        from pathlib import Path

        from pipeline import stages

        with _fail_fast():
            day = _batch()[0]
            return str(stages.parse_shard(Path(shard), day, Settings.load())["articles"])

    @task(pool=ENRICH_POOL, max_active_tis_per_dagrun=ENRICH_PER_RUN,
          execution_timeout=timedelta(hours=2))
    def enrich(articles_part: str) -> str:
        from dataclasses import replace
        from pathlib import Path

        from pipeline import stages

        with _fail_fast():
            day, settings = _batch()[0], Settings.load()
            if settings.ner_processes == 0:  # not one per core: the pool sets the parallelism
                settings = replace(settings, ner_processes=1)
            return str(stages.enrich_shard(Path(articles_part), day, settings))

    @task(execution_timeout=timedelta(hours=2))
    def publish(shards: list[str], entities_parts: list[str]) -> str:
        from pathlib import Path

        from pipeline import stages

        with _fail_fast():
            day = _batch()[0]
            allow = get_current_context()["params"].get("allow_checks") or None
            settings = Settings.load({"quality_override": allow})
            plan_path = stages.plan_of_shard(Path(shards[0]))
            return str(stages.publish_batch(plan_path, day, settings))

    @task(execution_timeout=timedelta(minutes=30))
    def compact(version: str) -> str:
        """Fold the months before the batch's into month files (a conflict with another run
        is logged and left for the next night)."""
        from pipeline import stages

        with _fail_fast():
            stages.compact_closed(Settings.load(), before=_batch()[0])
            return version

    @task(execution_timeout=timedelta(minutes=30))
    def refresh_catalog(version: str) -> str:
        from pipeline import stages

        with _fail_fast():
            return str(stages.refresh_catalog(Settings.load()))

    @task(execution_timeout=timedelta(minutes=30))
    def report(catalog: str) -> str:
        from pipeline import report

        with _fail_fast():
            day, settings = _batch()[0], Settings.load()
            return str(report.build_report(settings, day, day, None,
                                           report.default_output(settings, day, day)))

    shards = plan()
    articles = parse.expand(shard=shards)
    entities = enrich.expand(articles_part=articles)
    # Task functions take XComArgs when wired (Airflow's types do not say so).
    report(refresh_catalog(compact(publish(shards, entities))))  # type: ignore[arg-type]


news_nightly()
