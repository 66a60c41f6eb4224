"""``newsetl``: every stage without Airflow. The only module that configures logging."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from pipeline.progress import Progress
from pipeline.settings import Settings

LOGGER = logging.getLogger("pipeline.cli")
MAX_CELL = 60
DISPLAY_ROWS = 200
PLAN_COLUMNS = (["explain_key", "explain_value"], ["analyzed_plan"])
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json",
                  ".parquet": "parquet", ".pq": "parquet"}


class SettingsProblem(click.ClickException):
    """Bad settings: exit 2, like a usage error (deterministic)."""

    exit_code = 2


class GateBlocked(click.ClickException):
    """The quality gate blocked a publish: exit 3, so an orchestrator can tell it apart."""

    exit_code = 3


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    from pipeline.settings import SettingsError

    base: dict[str, Any] = dict(ctx.obj or {})
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.load(base)
    except SettingsError as exc:
        raise SettingsProblem(str(exc)) from exc


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A batch date: ISO, and one whose next day exists (the data interval is one day)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from exc
    if not date(1000, 1, 1) <= day <= date(9999, 12, 30):
        raise click.BadParameter(f"{value} is outside the supported batch dates "
                                 "1000-01-01 to 9999-12-30")
    return day


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (default data/warehouse; env NEWSETL_WAREHOUSE).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def main(ctx: click.Context, warehouse: Path | None, verbose: int, quiet: bool) -> None:
    """news-etl: load raw news dumps into a Parquet warehouse and query it with DuckDB.

    \b
    Exit codes: 0 published (or done); 1 not published, a pipeline error (the previous state
    stays live); 2 bad usage or settings (named in the message; a retry cannot help); 3 the
    quality gate blocked the batch (re-run with --allow CHECK to publish anyway).
    """
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 1:  # per-record warnings are in the rejects table; keep the terminal readable
        logging.getLogger("pipeline.batch").setLevel(max(level, logging.INFO))
    ctx.obj = {"warehouse": warehouse} if warehouse else {}


@contextmanager
def _progress(enabled: bool | None) -> Iterator[Progress]:
    """The command's progress renderer on stderr; log records first erase its status line."""
    from pipeline.progress import ClearStatusLine, choose

    progress = choose(sys.stderr, enabled)
    guard = ClearStatusLine(progress)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(guard)
    try:
        yield progress
    finally:
        for handler in handlers:
            handler.removeFilter(guard)
        progress.close()


PROGRESS_HELP = ("A status line on stderr (default: when stderr is a terminal and not -q); "
                 "--no-progress logs a progress line every 10 s and per stage instead.")


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
@click.option("--progress/--no-progress", "show_progress", default=None, help=PROGRESS_HELP)
@click.pass_context
def run(ctx: click.Context, input_path: Path | None, batch_date: date, warehouse: Path | None,
        landing: Path | None, allow: str | None, show_progress: bool | None) -> None:
    """Process one batch: parse, normalise, enrich, publish, refresh the catalog.

    Exit 0 once the batch is published, even when the catalog cannot be refreshed afterwards
    (another process holds it: a warning; the next run or `newsetl catalog` refreshes it);
    1 not published; 2 bad settings; 3 blocked by the quality gate.
    """
    from datetime import timedelta

    from pipeline import stages
    from pipeline.catalog.views import CatalogError
    from pipeline.enrich.ner import ModelNotFoundError
    from pipeline.ingest import readers
    from pipeline.warehouse.quality import QualityGateError
    from pipeline.warehouse.storage import BatchLockedError

    settings = _settings(ctx, warehouse=warehouse, landing=landing, quality_override=allow)
    if input_path is not None:
        files = readers.list_input_files(input_path)
    else:
        files = readers.landing_files(settings.landing, batch_date,
                                      batch_date + timedelta(days=1))
    try:
        with _progress(show_progress) as progress:
            result = stages.run_batch(files, batch_date, settings, progress)
    except QualityGateError as exc:
        raise GateBlocked(str(exc)) from exc
    except (stages.PublishError, ModelNotFoundError, BatchLockedError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from exc
    run_row = stages.current_run(settings, batch_date) or {}  # the run's own files, no catalog
    counts = ", ".join(f"{c}={run_row.get(c)}" for c in RUN_COUNTS)
    click.echo(f"batch {batch_date}: run {result.run_id}: {counts}")


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
@click.option("--progress/--no-progress", "show_progress", default=None, help=PROGRESS_HELP)
@click.pass_context
def backfill_cmd(ctx: click.Context, archive: Path, start: date, end: date, parallel: int,
                 force: bool, warehouse: Path | None, show_progress: bool | None) -> None:
    """Run every day of an archive; restartable (done days are skipped) and parallel."""
    from pipeline.batch.backfill import DayResult, backfill

    settings = _settings(ctx, warehouse=warehouse)
    with _progress(show_progress) as progress:

        def report(result: DayResult) -> None:
            progress.clear()  # stdout and the status line may share one terminal
            click.echo(f"{result.batch_date} {result.status}: {result.detail}")

        results = backfill(archive, start, end, settings, parallel, force, report, progress)
    counts = {s: sum(1 for r in results if r.status == s)
              for s in ("loaded", "skipped", "empty", "failed")}
    click.echo("backfill: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts["failed"]:
        raise click.ClickException(f"{counts['failed']} day(s) failed; re-run to retry them")


RUN_COUNTS = ("input_files", "records_read", "articles_loaded", "records_rejected",
              "entities_found")


@main.command("query")
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]),
              default=None, help="Output format (default: table on screen; with --output, from "
              "the file's suffix .csv/.json/.jsonl/.parquet). json is JSON Lines.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result to FILE instead of printing it (streamed).")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (overrides the group option and NEWSETL_WAREHOUSE).")
@click.option("--max-width", type=int, default=MAX_CELL, show_default=True,
              help="Truncate table cells to this many characters (0: no limit).")
@click.option("--limit", type=click.IntRange(min=0), default=DISPLAY_ROWS, show_default=True,
              help="Rows shown as a table (all rows are still counted; 0: show all).")
@click.pass_context
def query_cmd(ctx: click.Context, sql: str, fmt: str | None, output: Path | None,
              warehouse: Path | None, max_width: int, limit: int) -> None:
    """Run SQL (text, or a .sql file) against the warehouse catalog and print or save the rows."""
    from pipeline.catalog.views import EXPORT_FORMATS, CatalogError, connect, export

    settings = _settings(ctx, warehouse=warehouse)
    sql_path = Path(sql)
    if sql.endswith(".sql"):
        if not sql_path.is_file():
            raise click.ClickException(f"no such SQL file: {sql}")
        sql = sql_path.read_text(encoding="utf-8")
    if output is not None and fmt in (None, "table"):
        fmt = SUFFIX_FORMATS.get(output.suffix.lower())
        if fmt is None:
            raise click.ClickException(f"cannot tell the format of {output} from its suffix: "
                                       f"give --format {'|'.join(EXPORT_FORMATS)}")
    fmt = fmt or "table"
    if fmt == "parquet" and output is None:
        raise click.ClickException("--format parquet needs --output FILE")
    try:
        if output is not None:
            rows = export(settings, sql, output, fmt)
            click.echo(f"{rows} row{'s' if rows != 1 else ''} written to {output} ({fmt})",
                       err=True)
            return
        con = connect(settings)
        try:
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description] if cur.description else []
            if fmt == "table" and columns in PLAN_COLUMNS:  # EXPLAIN [ANALYZE]: the plan as is
                click.echo("\n".join(str(row[-1]) for row in cur.fetchall()))
            elif fmt == "table":
                shown, total = _fetch_counting(cur, limit)
                click.echo(format_rows(columns, shown, fmt, max_width, total), nl=False)
            else:
                click.echo(format_rows(columns, [], fmt), nl=False)  # the header, for CSV
                while batch := cur.fetchmany(10_000):
                    click.echo(format_rows(columns, batch, fmt, header=False), nl=False)
        finally:
            con.close()
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # a SQL error: show DuckDB's message, not a traceback
        raise click.ClickException(f"query failed: {exc}") from exc


def _fetch_counting(cur: Any, limit: int) -> tuple[list[tuple[Any, ...]], int]:
    """The first ``limit`` rows (all when 0) and the number of rows of the result."""
    shown: list[tuple[Any, ...]] = []
    total = 0
    while batch := cur.fetchmany(10_000):
        total += len(batch)
        room = len(batch) if not limit else max(0, limit - len(shown))
        shown.extend(batch[:room])
    return shown, total


@main.command("validate")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (overrides the group option and NEWSETL_WAREHOUSE).")
@click.option("--all", "show_all", is_flag=True, help="List passing tests too.")
@click.pass_context
def validate_cmd(ctx: click.Context, warehouse: Path | None, show_all: bool) -> None:
    """Run the data tests of sql/models.yml on the warehouse; check its docs match the views."""
    from pipeline.catalog import sqlmodel
    from pipeline.catalog.views import CatalogError, connect

    settings = _settings(ctx, warehouse=warehouse)
    try:
        models = sqlmodel.load_models(settings.sql_dir)
        con = connect(settings)
    except (CatalogError, sqlmodel.ModelError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        gaps = sqlmodel.documentation_gaps(con, models)
        results = sqlmodel.run_tests(con, sqlmodel.compile_tests(models))
    finally:
        con.close()
    rows = [(r.test.view, r.test.name, r.status, r.error or r.failures) for r in results
            if show_all or r.status != "pass"]
    rows += [("(docs)", gap, "fail", "") for gap in gaps]
    if rows:
        click.echo(format_rows(["view", "test", "status", "failing rows"], rows, "table", 100),
                   nl=False)
    failed = sum(1 for r in results if r.status in ("fail", "error")) + len(gaps)
    warned = sum(1 for r in results if r.status == "warn")
    click.echo(f"{len(results)} data tests on {len(models)} views: {failed} failed, "
               f"{warned} warnings; documentation {'complete' if not gaps else 'incomplete'}")
    if failed:
        raise click.ClickException(f"{failed} data test(s) failed")


@main.command("report")
@click.option("--date", "start", required=True, callback=_parse_date,
              help="The batch (or the first of a range), YYYY-MM-DD.")
@click.option("--to", "end", default=None, callback=_parse_date,
              help="Last batch date of a range (included).")
@click.option("--entity", default=None, metavar="NAME", help="Entity (normalised name) charted "
              "over time (default: the range's most mentioned).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file (default <warehouse>/reports/report-<date>[_<to>].html).")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None,
              help="Warehouse folder (overrides the group option and NEWSETL_WAREHOUSE).")
@click.pass_context
def report_cmd(ctx: click.Context, start: date, end: date | None, entity: str | None,
               output: Path | None, warehouse: Path | None) -> None:
    """Write a self-contained HTML report of a batch or a range of batches; prints its path."""
    from pipeline.catalog.views import CatalogError
    from pipeline.report import ReportError, build_report, default_output

    settings = _settings(ctx, warehouse=warehouse)
    end = end or start
    try:
        path = build_report(settings, start, end, entity,
                            output or default_output(settings, start, end))
    except (CatalogError, ReportError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path))


@main.command("catalog")
@click.pass_context
def catalog_cmd(ctx: click.Context) -> None:
    """Rebuild news.duckdb from sql/views (after moving the warehouse or editing views)."""
    from pipeline.catalog.views import CatalogError
    from pipeline.stages import refresh_catalog

    try:
        click.echo(str(refresh_catalog(_settings(ctx), force=True)))
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("compact")
@click.option("--month", "months", multiple=True, metavar="YYYY-MM",
              help="a month to compact (repeatable); default: every closed month")
@click.option("--before", callback=_parse_date, metavar="DATE", help="only months before it")
@click.pass_context
def compact_cmd(ctx: click.Context, months: tuple[str, ...], before: date | None) -> None:
    """Fold closed months' day partitions into month files (fewer, larger files to read)."""
    from pipeline.stages import compact_closed

    if bad := [m for m in months if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m)]:
        raise click.BadParameter(f"{bad[0]!r} is not a month (YYYY-MM)", param_hint="--month")
    outcome = compact_closed(_settings(ctx), before=before, months=months or None)
    click.echo("\n".join(f"{m}: {r}" for m, r in outcome.items())
               or "no closed month has open days: nothing to compact")
    ctx.exit(1 if any(r.startswith("skipped") for r in outcome.values()) else 0)


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
    from pipeline import stages
    from pipeline.ingest import readers

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

    settings = _settings(ctx)
    click.echo(str(stages.publish_batch(plan, batch_date, settings)))
    stages.refresh_catalog(settings)


@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="JSON: {setting: {value, source}}.")
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings and where each value came from (default, the TOML file,
    a NEWSETL_* variable, a command-line option). Exit 2 if any setting is invalid."""
    import json

    from pipeline.settings import SettingsError

    try:
        settings, sources = Settings.load_with_sources(dict(ctx.obj or {}))
    except SettingsError as exc:
        raise SettingsProblem(str(exc)) from exc
    values = settings.to_dict()
    if as_json:
        click.echo(json.dumps({k: {"value": v, "source": sources[k]} for k, v in values.items()},
                              indent=2, sort_keys=True))
        return
    rows = [(k, json.dumps(v) if isinstance(v, dict) else str(v), sources[k])
            for k, v in values.items()]
    click.echo(format_rows(["setting", "value", "source"], rows, "table", max_width=80),
               nl=False)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _printable(text: str) -> str:
    """Control characters shown escaped (``\x1b``), never sent to the terminal: a cell of an
    older batch (or of a CSV export read back) must not move the cursor or clear the screen."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda m: " " if m.group() == "\t" else
                            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                            f"\\u{ord(m.group()):04x}", text)


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, datetime | date):
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    elif isinstance(value, float):  # 4 decimals are plenty on screen; exports keep them all
        text = repr(round(value, 4))
    elif isinstance(value, list):
        text = "[" + ", ".join(_cell(v, 0) for v in value) + "]"
    else:
        text = str(value)
    text = _printable(text.replace("\n", " "))
    if max_width and len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str,
                max_width: int = MAX_CELL, total: int | None = None, header: bool = True) -> str:
    """Rows as an aligned text table, CSV or JSON Lines.

    A table ends with the row count; ``total`` (rows of the whole result) says how many were
    left out. ``header=False`` continues a CSV in chunks.
    """
    if fmt in ("csv", "json"):
        from pipeline.catalog.views import serialise_rows

        return serialise_rows(list(columns), [tuple(r) for r in rows], fmt, header)
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
               for i in range(len(columns))]

    def fit(text: str, i: int) -> str:
        return text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i])

    out = [" | ".join(fit(c, i) for i, c in enumerate(columns)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(fit(v, i) for i, v in enumerate(r)).rstrip() for r in cells]
    total = len(rows) if total is None else total
    count = f"({total} row{'s' if total != 1 else ''}"
    if total > len(rows):
        count += f", first {len(rows)} shown; --limit 0 shows all"
    out.append(count + ")")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    main()
