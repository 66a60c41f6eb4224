"""Settings are validated at load: a typo is an error that names the setting, where it came
from, the value and what is allowed, never a silently different behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.settings import RANGES, Settings, SettingsError
from tests.conftest import SAMPLES

DAY = "2023-02-01"


@pytest.mark.parametrize(("env", "message"), [
    ({"NEWSETL_QUALITY_GATE": "ture"}, r"'quality_gate' must be a boolean .* got 'ture' "
                                       r"\(from NEWSETL_QUALITY_GATE\)"),
    ({"NEWSETL_QUALITY_GATE": "enabled"}, "'quality_gate' must be a boolean"),
    ({"NEWSETL_KEEP_PREVIOUS": "nope"}, "'keep_previous' must be a boolean"),
    ({"NEWSETL_SHARD_FILES": "0"}, r"'shard_files' = 0 is out of range: allowed 1"),
    ({"NEWSETL_SHARD_FILES": "-5"}, r"'shard_files' = -5 is out of range"),
    ({"NEWSETL_ROW_GROUP_ROWS": "0"}, r"'row_group_rows' = 0 is out of range"),
    ({"NEWSETL_MAX_RECORD_BYTES": "0"}, r"'max_record_bytes' = 0 is out of range"),
    ({"NEWSETL_QUALITY_THRESHOLDS": "duplicate_rate=abc"},
     r"duplicate_rate = 'abc' is not a number"),
    ({"NEWSETL_QUALITY_THRESHOLDS": "duplicates=0.1"}, r"unknown check 'duplicates'"),
    ({"NEWSETL_QUALITY_OVERRIDE": "volume"}, r"unknown check 'volume'"),
    ({"NEWSETL_SCHEDULE": "every night"}, r"'schedule' = 'every night' is not a cron"),
    ({"NEWSETL_SCHEDULE": "0 25 * * *"}, r"'25' is not a valid hour"),
    ({"NEWSETL_SCHEDULE": "0 2 * * fun"}, r"'fun' is not a valid day of week"),
    ({"NEWSETL_SHARDFILES": "5"}, r"unknown setting 'shardfiles' \(from NEWSETL_SHARDFILES\); "
                                  r"did you mean 'shard_files' \(NEWSETL_SHARD_FILES\)\?"),
    ({"NEWSETL_WAREHOSE": "/x"}, r"did you mean 'warehouse'"),
    ({"NEWSETL_FORMATS": '{"*.csv": {"delimeter": ";"}}'}, r"unknown option\(s\) delimeter"),
    ({"NEWSETL_FORMATS": '{"*.csv": {"format": "xls"}}'}, r"unknown format 'xls'"),
    ({"NEWSETL_NER_MODELS": "German=de_news"}, r"'German' is not a language code"),
    ({"NEWSETL_MAX_FILE_ROWS": "1000"}, r"'max_file_rows' \(1,000\) must be at least"),
])
def test_bad_values_are_errors_naming_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.load(environ=env)


def test_good_values_still_load() -> None:
    s = Settings.load(environ={"NEWSETL_QUALITY_GATE": "off", "NEWSETL_KEEP_PREVIOUS": "Yes",
                               "NEWSETL_SHARD_FILES": "1_000",
                               "NEWSETL_SCHEDULE": "30 1 * * mon-fri",
                               "NEWSETL_QUALITY_THRESHOLDS": "duplicate_rate=0.1"})
    assert (s.quality_gate, s.keep_previous, s.shard_files) == (False, True, 1000)
    assert s.quality_thresholds == {"duplicate_rate": "0.1"}


def test_a_typo_in_the_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "newsetl.toml"
    config.write_text("[newsetl]\nshard_file = 10\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"unknown setting 'shard_file' \(from {config} "
                                            r"\[newsetl\]\); did you mean 'shard_files'"):
        Settings.load(environ={"NEWSETL_CONFIG": str(config)})


@given(name=st.sampled_from(sorted(RANGES)), value=st.integers(-10**12, 10**12))
def test_integers_load_exactly_when_in_range(name: str, value: int) -> None:
    low, high = RANGES[name]
    extra = {"max_file_rows": 10**9, "max_document_bytes": 2 * 10**10}
    values = {k: v for k, v in extra.items() if k != name}
    if name == "max_file_rows":
        values["row_group_rows"] = 100
    if name == "max_document_bytes":
        values["max_record_bytes"] = 1000
    try:
        Settings.from_mapping({**values, name: str(value)})
    except SettingsError as exc:
        assert not low <= value <= high or "must be at least" in str(exc)
    else:
        assert low <= value <= high


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_a_typo_in_the_gate_setting_blocks_nothing_silently(tmp_path: Path) -> None:
    """``NEWSETL_QUALITY_GATE=ture`` used to turn the gate off and publish a blocked batch."""
    broken = tmp_path / "in"
    broken.mkdir()
    for i in range(4):
        (broken / f"{i}.txt").write_bytes(b"")
    code, out = _run("--warehouse", str(tmp_path / "wh"), "run", "--input", str(broken),
                     "--date", DAY, env={"NEWSETL_QUALITY_GATE": "ture"})
    assert code == 2 and "'quality_gate' must be a boolean" in out
    assert not (tmp_path / "wh").exists()
    code, out = _run("--warehouse", str(tmp_path / "wh"), "run", "--input", str(broken),
                     "--date", DAY)
    assert code == 3 and "blocked by the quality gate" in out


def test_an_unknown_format_option_is_one_settings_error_not_a_reject_per_file(
        tmp_path: Path) -> None:
    code, out = _run("--warehouse", str(tmp_path / "wh"), "run", "--input",
                     str(SAMPLES / DAY), "--date", DAY,
                     env={"NEWSETL_FORMATS": '{"*.txt": {"colums": "a,b"}}'})
    assert code == 2 and "unknown option(s) colums" in out
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2023-02-30"])
def test_impossible_batch_dates_are_usage_errors(day: str) -> None:
    code, out = _run("run", "--date", day)
    assert code == 2 and "Invalid value for '--date'" in out and "Traceback" not in out


def test_config_prints_each_value_and_its_source(tmp_path: Path) -> None:
    config = tmp_path / "conf.toml"
    config.write_text("[newsetl]\nmax_shards = 8\n", encoding="utf-8")
    code, out = _run("--warehouse", str(tmp_path / "wh"), "config", "--json",
                     env={"NEWSETL_CONFIG": str(config), "NEWSETL_SHARD_FILES": "7"})
    assert code == 0, out
    shown = json.loads(out)
    assert shown["shard_files"] == {"value": 7, "source": "NEWSETL_SHARD_FILES"}
    assert shown["max_shards"] == {"value": 8, "source": f"{config} [newsetl]"}
    assert shown["warehouse"] == {"value": str(tmp_path / "wh"), "source": "override"}
    assert shown["row_group_rows"]["source"] == "default"
    assert set(shown) == set(Settings().to_dict())
    code, out = _run("config", env={"NEWSETL_KEEP_PREVIOUS": "nope"})
    assert code == 2 and "keep_previous" in out


HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])  # read-write: holds the file's lock
print("holding", flush=True)
time.sleep(120)
"""


def test_published_batch_exits_0_while_another_process_holds_the_catalog(
        tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    code, out = _run("--warehouse", str(wh), "run", "--input", str(SAMPLES / DAY), "--date", DAY,
                     env={"NEWSETL_NER_MODELS": "de=none"})
    assert code == 0, out
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(wh / "news.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        code, out = _run("--warehouse", str(wh), "run", "--input", str(SAMPLES / DAY),
                         "--date", DAY, env={"NEWSETL_NER_MODELS": "de=none",
                                             "NEWSETL_REUSE_UNCHANGED": "false"})
        assert time.monotonic() - started < 60
    finally:
        holder.kill()
        holder.wait()
    assert code == 0, out
    assert "records_read=7" in out and "Traceback" not in out


def test_readme_settings_reference_is_current() -> None:
    """The README's settings table is generated from the Settings class and its rules."""
    from pipeline.catalog.docs import SETTINGS_BEGIN, SETTINGS_END, settings_markdown
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(SETTINGS_BEGIN), readme.index(SETTINGS_END) + len(SETTINGS_END)
    assert readme[start:end] == settings_markdown(), "run `python -m pipeline.catalog.docs --write`"
    for name in RANGES:
        assert f"`{name}` (`NEWSETL_{name.upper()}`)" in readme
