"""Progress of long commands: log lines off a terminal, one status line on it, through the CLI."""

from __future__ import annotations

import io
import logging
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.ingest import readers
from pipeline.progress import (
    NO_PROGRESS,
    ClearStatusLine,
    LogProgress,
    TerminalProgress,
    choose,
)
from tests.conftest import SAMPLES


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def progress_lines(caplog: pytest.LogCaptureFixture, stage: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "pipeline.progress" and r.getMessage().startswith(f"progress {stage}:")]


def test_log_lines_are_throttled_and_carry_counts_rate_and_eta(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.progress")
    clock = FakeClock()
    progress = LogProgress(interval=10, clock=clock)
    progress.start("parse", 40, "files", "articles", counts=("rejected",))
    for i in range(40):  # 2.5 s and 300 articles per file: 120 articles/s
        clock.tick(2.5)
        progress.advance("parse", done=1, items=300, rejected=i % 2)
    progress.finish("parse")

    lines = progress_lines(caplog, "parse")
    # 100 s of work: one line per 10 s at most (4 files each), and one at the end.
    assert len(lines) == 100 // 10 + 1
    assert lines[0] == ("progress parse: 4/40 files, 1,200 articles, 2 rejected, "
                        "120 articles/s, 10 s, ETA 0:01:30")
    assert lines[4] == ("progress parse: 20/40 files, 6,000 articles, 10 rejected, "
                        "120 articles/s, 50 s, ETA 0:00:50")
    assert lines[-1] == ("progress parse: 40/40 files, 12,000 articles, 20 rejected, "
                         "120 articles/s, 0:01:40")


def test_log_lines_for_days_per_minute_and_a_stage_nobody_started(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.progress")
    clock = FakeClock()
    progress = LogProgress(interval=10, clock=clock)
    progress.start("backfill", 6, "days", per_minute=True, counts=("loaded", "skipped", "failed"))
    for status in ("loaded", "skipped", "loaded"):
        clock.tick(20)
        progress.advance("backfill", done=1, **{status: 1})
    progress.finish("backfill")
    clock.tick(5)
    progress.advance("enrich", done=2, items=7)  # never started: counted, total unknown
    progress.finish("enrich")

    days = progress_lines(caplog, "backfill")
    assert days[0] == ("progress backfill: 1/6 days, 1 loaded, 0 skipped, 0 failed, "
                       "3.0 days/min, 20 s, ETA 0:01:40")
    assert days[-1] == ("progress backfill: 3/6 days, 2 loaded, 1 skipped, 0 failed, "
                        "3.0 days/min, 0:01:00")
    assert progress_lines(caplog, "enrich") == ["progress enrich: 2 files, 7 items, 0 s"]


def test_status_line_is_rewritten_in_place_on_a_terminal() -> None:
    clock = FakeClock()
    out = FakeTerminal()
    progress = TerminalProgress(out, interval=0.5, clock=clock)
    progress.start("parse", 40, "files", "articles")
    first = out.getvalue()
    for _ in range(12):
        clock.tick(1)
        progress.advance("parse", done=1, items=260)
    for _ in range(5):  # within the redraw interval: no writes
        progress.advance("parse", items=1)
    assert out.getvalue().count("\r") == 1 + 12
    assert "\n" not in out.getvalue()
    last = out.getvalue().rsplit("\r", 1)[1]
    assert re.fullmatch(r"parse +12/40 files {2}3,120 articles {2}260 art/s {2}ETA 0:00:28 *",
                        last), last
    assert first.startswith("\r") and "0/40 files" in first

    progress.clear()  # e.g. before a log record: the line is blanked, the cursor at its start
    assert out.getvalue().endswith("\r" + " " * len(last.rstrip()) + "\r")
    clock.tick(28)
    progress.advance("parse", done=28, items=7280)
    progress.finish("parse")
    final = out.getvalue().rsplit("\r", 1)[1]
    assert final.endswith("\n") and "40/40 files  10,405 articles" in final
    assert "ETA" not in final and "40 s" in final


def test_log_record_erases_the_status_line_first(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.progress")
    out = FakeTerminal()
    progress = TerminalProgress(out, clock=FakeClock())
    handler = logging.StreamHandler(out)
    handler.addFilter(ClearStatusLine(progress))
    logger = logging.getLogger("tests.progress")
    logger.addHandler(handler)
    try:
        progress.start("publish", 4, "tables", "rows")
        logger.warning("something happened")
    finally:
        logger.removeHandler(handler)
    shown = out.getvalue().split("something happened")[0]
    status = shown.split("\r")[1]
    assert shown.endswith("\r" + " " * len(status) + "\r")  # erased, then the record
    progress.close()
    assert out.getvalue().endswith("something happened\n")  # no line left to end


def test_choose_status_line_only_for_a_terminal_with_info(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.progress")
    assert isinstance(choose(FakeTerminal()), TerminalProgress)
    assert isinstance(choose(io.StringIO()), LogProgress)
    assert isinstance(choose(FakeTerminal(), enabled=False), LogProgress)
    assert isinstance(choose(io.StringIO(), enabled=True), TerminalProgress)
    caplog.set_level(logging.WARNING, logger="pipeline.progress")  # newsetl -q
    assert isinstance(choose(FakeTerminal()), LogProgress)
    NO_PROGRESS.start("parse", 3)  # the library default takes every call and shows nothing
    NO_PROGRESS.advance("parse", done=1, items=2, rejected=1)
    NO_PROGRESS.finish("parse")


def test_newsetl_run_logs_progress_per_stage(shared: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.progress")
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES / "2023-02-01", inbox)  # with an empty file and a duplicate
    shutil.copy(shared / "seed" / "000_5fa03b91928cf31a.txt", inbox / "100_5fa03b91928cf31a.txt")
    files = len(readers.list_input_files(inbox))
    result = CliRunner().invoke(main, ["run", "--input", str(inbox), "--date", "2023-01-31",
                                       "--warehouse", str(tmp_path / "wh")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output  # not a terminal: no status line
    run = dict(re.findall(r"(\w+)=(\d+)", result.output))
    loaded, rejected = int(run["articles_loaded"]), int(run["records_rejected"])
    assert int(run["input_files"]) == files and rejected > 0

    # The last line of each stage is its end-of-stage line (a slow stage, e.g. loading the NER
    # model on a busy machine, may log interval lines before it).
    plan = progress_lines(caplog, "plan")[-1]
    assert plan.startswith(f"progress plan: {files}/{files} files, ")
    parse = progress_lines(caplog, "parse")[-1]
    assert parse.startswith(f"progress parse: {files}/{files} files, {loaded} articles, "
                            f"{rejected} rejected, ")
    assert re.search(r", [\d.,]+ articles/s, \d+ s$", parse), parse
    enrich = progress_lines(caplog, "enrich")[-1]
    assert enrich.startswith(f"progress enrich: {loaded}/{loaded} articles, ")
    publish = progress_lines(caplog, "publish")[-1]
    assert publish.startswith("progress publish: 4/4 tables, ")


def test_newsetl_backfill_logs_progress_in_days(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.progress")
    args = ["backfill", "--archive", str(SAMPLES), "--from", "2023-01-30", "--to", "2023-01-31",
            "--warehouse", str(tmp_path / "wh"), "--no-progress"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert progress_lines(caplog, "backfill")[-1].startswith(
        "progress backfill: 2/2 days, 1 loaded, 0 skipped, 0 failed, 1 empty, ")
    caplog.clear()
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert progress_lines(caplog, "backfill")[-1].startswith(
        "progress backfill: 2/2 days, 0 loaded, 1 skipped, 0 failed, 1 empty, ")


def test_ner_corpus_conversion_reports_corpora(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    from training.ner import convert

    caplog.set_level(logging.INFO, logger="pipeline.progress")
    sentence = (["Stoltenberg", "besucht", "Seoul"], ["B-PER", "O", "B-LOC"])
    monkeypatch.setattr(convert, "sources", lambda data, variant="all", repeat=1: {
        "train": {"a": [sentence] * 2500, "b": [sentence] * 300, "c": [([], [])]},
        "dev": {"a": [sentence] * 10}})
    stats = convert.convert(tmp_path, tmp_path / "out", LogProgress(clock=FakeClock()))
    (train,) = progress_lines(caplog, "convert train")
    assert train.startswith(f"progress convert train: 3/3 corpora, "
                            f"{sum(c['sentences'] for c in stats['train'].values() if c):,} "
                            "sentences, ")
    (dev,) = progress_lines(caplog, "convert dev")
    assert dev.startswith("progress convert dev: 1/1 corpora, 10 sentences, ")
