"""``newsetl``: every stage without Airflow. The only module that configures logging."""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from pipeline.settings import Settings

LOGGER = logging.getLogger("pipeline.cli")
MAX_CELL = 60


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(ctx.obj or {})
    base.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.load(base)


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (default data/warehouse; env NEWSETL_WAREHOUSE).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def main(ctx: click.Context, warehouse: Path | None, verbose: int, quiet: bool) -> None:
    """news-etl: load raw news dumps into a Parquet warehouse and query it with DuckDB."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 1:  # per-record warnings are in the rejects table; keep the terminal readable
        logging.getLogger("pipeline.stages").setLevel(max(level, logging.INFO))
    ctx.obj = {"warehouse": warehouse} if warehouse else {}


@main.command()
@click.option("--input", "input_path", type=click.Path(exists=True, path_type=Path),
              default=None, help="A dump file or a folder of them. Default: the landing folder "
              "of --date (<landing>/YYYY-MM-DD).")
@click.option("--date", "batch_date", required=True, callback=_parse_date,
              help="The batch's logical date, YYYY-MM-DD.")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (overrides the group option and NEWSETL_WAREHOUSE).")
@click.option("--landing", type=click.Path(path_type=Path), default=None,
              help="Landing folder (env NEWSETL_LANDING).")
@click.option("--allow", "allow", default=None, metavar="CHECK[,CHECK]",
              help="Quality checks allowed to fail for this run (recorded as overridden).")
@click.pass_context
def run(ctx: click.Context, input_path: Path | None, batch_date: date, warehouse: Path | None,
        landing: Path | None, allow: str | None) -> None:
    """Process one batch: parse, normalise, enrich, publish, refresh the catalog."""
    from datetime import timedelta

    from pipeline import readers, stages
    from pipeline.catalog import CatalogError
    from pipeline.enrich import ModelNotFoundError
    from pipeline.quality import QualityGateError
    from pipeline.storage import BatchLockedError

    settings = _settings(ctx, warehouse=warehouse, landing=landing, quality_override=allow)
    if input_path is not None:
        files = readers.list_input_files(input_path)
    else:
        files = readers.landing_files(settings.landing, batch_date,
                                      batch_date + timedelta(days=1))
    try:
        result = stages.run_batch(files, batch_date, settings)
    except (stages.PublishError, ModelNotFoundError, BatchLockedError, CatalogError,
            QualityGateError) as exc:
        raise click.ClickException(str(exc)) from exc
    _, rows = _query_run(settings, result.run_id)
    click.echo(f"batch {batch_date}: run {result.run_id}: {rows}")


@main.command("backfill")
@click.option("--archive", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="Folder laid out like the landing folder: <archive>/YYYY-MM-DD/.")
@click.option("--from", "start", required=True, callback=_parse_date, help="First day.")
@click.option("--to", "end", required=True, callback=_parse_date, help="Last day (included).")
@click.option("--parallel", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Days processed at once (processes).")
@click.option("--force", is_flag=True, help="Re-run days already published from the same "
              "inputs with this code version.")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (overrides the group option and NEWSETL_WAREHOUSE).")
@click.pass_context
def backfill_cmd(ctx: click.Context, archive: Path, start: date, end: date, parallel: int,
                 force: bool, warehouse: Path | None) -> None:
    """Run every day of an archive; restartable (done days are skipped) and parallel."""
    from pipeline.backfill import DayResult, backfill

    settings = _settings(ctx, warehouse=warehouse)

    def report(result: DayResult) -> None:
        click.echo(f"{result.batch_date} {result.status}: {result.detail}")

    results = backfill(archive, start, end, settings, parallel, force, report)
    counts = {s: sum(1 for r in results if r.status == s)
              for s in ("loaded", "skipped", "empty", "failed")}
    click.echo("backfill: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts["failed"]:
        raise click.ClickException(f"{counts['failed']} day(s) failed; re-run to retry them")


def _query_run(settings: Settings, run_id: str) -> tuple[list[str], str]:
    from pipeline.catalog import query

    cols, rows = query(settings, "SELECT input_files, records_read, articles_loaded, "
                       "records_rejected, entities_found FROM runs WHERE run_id = ?", [run_id])
    return cols, ", ".join(f"{c}={v}" for c, v in zip(cols, rows[0], strict=True))


@main.command("query")
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (overrides the group option and NEWSETL_WAREHOUSE).")
@click.option("--max-width", type=int, default=MAX_CELL, show_default=True,
              help="Truncate table cells to this many characters (0: no limit).")
@click.pass_context
def query_cmd(ctx: click.Context, sql: str, fmt: str, warehouse: Path | None,
              max_width: int) -> None:
    """Run SQL against the warehouse catalog and print the rows."""
    from pipeline.catalog import CatalogError, query

    settings = _settings(ctx, warehouse=warehouse)
    sql_path = Path(sql)
    if sql.endswith(".sql") and sql_path.is_file():
        sql = sql_path.read_text(encoding="utf-8")
    try:
        columns, rows = query(settings, sql)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # a SQL error: show DuckDB's message, not a traceback
        raise click.ClickException(f"query failed: {exc}") from exc
    click.echo(format_rows(columns, rows, fmt, max_width), nl=False)


@main.command("catalog")
@click.pass_context
def catalog_cmd(ctx: click.Context) -> None:
    """Rebuild news.duckdb from sql/views (after moving the warehouse or editing views)."""
    from pipeline.catalog import refresh_catalog

    click.echo(str(refresh_catalog(_settings(ctx), force=True)))


@main.group()
def stage() -> None:
    """Run one stage at a time, as the Airflow tasks do (paths in, paths out)."""


@stage.command("plan")
@click.option("--input", "input_path", type=click.Path(exists=True, path_type=Path),
              required=True)
@click.option("--date", "batch_date", required=True, callback=_parse_date)
@click.pass_context
def stage_plan(ctx: click.Context, input_path: Path, batch_date: date) -> None:
    """Plan a batch; prints the plan path then one shard manifest path per line."""
    from pipeline import readers, stages

    plan = stages.plan_batch(readers.list_input_files(input_path), batch_date, _settings(ctx))
    click.echo(str(plan.path))
    for shard in plan.shards:
        click.echo(str(shard))


@stage.command("parse")
@click.argument("shard", type=click.Path(exists=True, path_type=Path))
@click.option("--date", "batch_date", required=True, callback=_parse_date)
@click.pass_context
def stage_parse(ctx: click.Context, shard: Path, batch_date: date) -> None:
    """Parse one shard; prints the articles part path."""
    from pipeline import stages

    click.echo(str(stages.parse_shard(shard, batch_date, _settings(ctx))["articles"]))


@stage.command("enrich")
@click.argument("articles_part", type=click.Path(exists=True, path_type=Path))
@click.option("--date", "batch_date", required=True, callback=_parse_date)
@click.pass_context
def stage_enrich(ctx: click.Context, articles_part: Path, batch_date: date) -> None:
    """Enrich one parsed shard; prints the entities part path."""
    from pipeline import stages

    click.echo(str(stages.enrich_shard(articles_part, batch_date, _settings(ctx))))


@stage.command("publish")
@click.argument("plan", type=click.Path(exists=True, path_type=Path))
@click.option("--date", "batch_date", required=True, callback=_parse_date)
@click.pass_context
def stage_publish(ctx: click.Context, plan: Path, batch_date: date) -> None:
    """Publish a planned, parsed and enriched run; refreshes the catalog."""
    from pipeline import stages
    from pipeline.catalog import refresh_catalog

    settings = _settings(ctx)
    click.echo(str(stages.publish_batch(plan, batch_date, settings)))
    refresh_catalog(settings)


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, datetime | date):
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    else:
        text = str(value)
    text = text.replace("\n", " ")
    if max_width and len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
                max_width: int = MAX_CELL) -> str:
    """Rows as an aligned text table, CSV or JSON lines."""
    if fmt == "json":
        return "".join(json.dumps(dict(zip(columns, row, strict=True)), default=str,
                                  ensure_ascii=False) + "\n" for row in rows)
    if fmt == "csv":
        from io import StringIO

        buf = StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return buf.getvalue()
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
               for i in range(len(columns))]

    def fit(text: str, i: int) -> str:
        return text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i])

    out = [" | ".join(fit(c, i) for i, c in enumerate(columns)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(fit(v, i) for i, v in enumerate(r)).rstrip() for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    main()
