"""Nightly ingestion of the news dumps that landed during the run's data interval.

Landing layout: ``$NEWSETL_LANDING/YYYY-MM-DD/<any files or folders>``; the run for the data
interval ``[start, end)`` reads the day folders ``start.date() <= day < end.date()`` and publishes
them as the batch ``batch_date = start.date()``. Parsing and enrichment are mapped over shards of
files, so they spread over the workers; only paths travel through XCom. Every task calls one
function of ``pipeline``; heavy imports happen inside the tasks, never at parse time. The last
task writes the batch's HTML report to ``<warehouse>/reports/report-<batch_date>.html``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from pipeline.settings import Settings

DEFAULTS = Settings.load()


def _batch() -> tuple[pendulum.Date, pendulum.Date]:
    """The data interval as dates: the batch key (never the wall clock)."""
    ctx = get_current_context()
    return ctx["data_interval_start"].date(), ctx["data_interval_end"].date()


@dag(
    dag_id="news_nightly",
    schedule=CronDataIntervalTimetable(DEFAULTS.schedule, timezone="UTC"),
    start_date=pendulum.datetime(2023, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2),
                  "retry_exponential_backoff": True, "owner": "news-etl"},
    tags=["news-etl", "ingestion"],
    params={"allow_checks": Param("", type="string", description="Quality checks allowed to "
                                  "fail for this run, comma-separated (operator override).")},
    doc_md=__doc__,
)
def news_nightly() -> None:
    @task
    def plan() -> list[str]:
        from pipeline import readers, stages

        start, end = _batch()
        settings = Settings.load()
        plan = stages.plan_batch(readers.landing_files(settings.landing, start, end), start,
                                 settings)
        return [str(shard) for shard in plan.shards]

    @task
    def parse(shard: str) -> str:
        from pathlib import Path

        from pipeline import stages

        return str(stages.parse_shard(Path(shard), _batch()[0], Settings.load())["articles"])

    @task
    def enrich(articles_part: str) -> str:
        from pathlib import Path

        from pipeline import stages

        return str(stages.enrich_shard(Path(articles_part), _batch()[0], Settings.load()))

    @task
    def publish(shards: list[str], entities_parts: list[str]) -> str:
        from pathlib import Path

        from pipeline import stages

        plan_path = stages.plan_of_shard(Path(shards[0]))
        allow = get_current_context()["params"].get("allow_checks") or None
        return str(stages.publish_batch(plan_path, _batch()[0],
                                        Settings.load({"quality_override": allow})))

    @task
    def refresh_catalog(version: str) -> str:
        from pipeline.catalog import refresh_catalog

        return str(refresh_catalog(Settings.load()))

    @task
    def report(catalog: str) -> str:
        from pipeline import report

        day, settings = _batch()[0], Settings.load()
        return str(report.build_report(settings, day, day, None,
                                       report.default_output(settings, day, day)))

    shards = plan()
    articles = parse.expand(shard=shards)
    entities = enrich.expand(articles_part=articles)
    report(refresh_catalog(publish(shards, entities)))


news_nightly()
