"""Quality gate: a batch that looks wrong is not published; an operator can let it through."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.conftest import SAMPLES

DAY = "2023-02-01"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args])
    return result.exit_code, result.output


def test_bad_batch_is_blocked_and_the_previous_state_stays(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    code, out = run("--input", str(SAMPLES / DAY), "--date", DAY, "--warehouse", str(wh))
    assert code == 0, out
    con = duckdb.connect(str(wh / "news.duckdb"), read_only=True)
    good = con.execute("SELECT article_id FROM articles ORDER BY 1").fetchall()
    checks = dict(con.execute('SELECT "check", status FROM quality_checks').fetchall())
    con.close()
    assert checks["empty_body_share"] == "pass" and checks["volume_ratio_low"] == "skipped"

    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(6):
        (broken / f"empty{i}.txt").write_bytes(b"")
    (broken / "one.txt").write_text("Titel\n\nAngela Merkel besuchte am Montag Berlin.\n",
                                    encoding="utf-8")
    code, out = run("--input", str(broken), "--date", DAY, "--warehouse", str(wh))
    assert code != 0
    assert "blocked by the quality gate: empty_body_share 0.8571" in out
    assert "rejected_share 0.8571" in out  # 6 of 7 records rejected
    assert "--allow empty_body_share,rejected_share" in out
    con = duckdb.connect(str(wh / "news.duckdb"), read_only=True)
    assert con.execute("SELECT article_id FROM articles ORDER BY 1").fetchall() == good
    con.close()
    (report,) = (wh / "_staging").glob("*/quality_checks.json")
    failed = [c for c in json.loads(report.read_text()) if c["status"] == "fail"]
    assert [c["check"] for c in failed] == ["empty_body_share", "rejected_share"]

    code, out = run("--input", str(broken), "--date", DAY, "--warehouse", str(wh),
                    "--allow", "empty_body_share,rejected_share")
    assert code == 0, out
    con = duckdb.connect(str(wh / "news.duckdb"), read_only=True)
    assert con.execute('SELECT status FROM quality_checks WHERE "check" = \'empty_body_share\''
                       ).fetchall() == [("overridden",)]
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)


@pytest.mark.parametrize("threshold", ["0.1"])
def test_thresholds_come_from_settings(tmp_path: Path, threshold: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Day 2 of the samples has 1 duplicate in 7 records (0.143): under a 0.1 limit it fails."""
    monkeypatch.setenv("NEWSETL_QUALITY_THRESHOLDS", f"duplicate_rate={threshold}")
    code, out = run("--input", str(SAMPLES / DAY), "--date", DAY, "--warehouse",
                    str(tmp_path / "wh"))
    assert code != 0 and "duplicate_rate 0.1429" in out
    assert not (tmp_path / "wh" / "articles").exists() or not any(
        (tmp_path / "wh" / "articles").iterdir())
    assert date.fromisoformat(DAY)  # the batch date in the message is the one asked for
    assert DAY in out


def test_a_source_that_goes_quiet_fails_the_volume_check(tmp_path: Path) -> None:
    """Three days with two outlets, then a day where one of them delivers nothing."""
    from pipeline import stages
    from pipeline.ingest import readers
    from pipeline.settings import Settings
    from pipeline.warehouse.quality import QualityGateError

    settings = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {}})

    def day(n: int, outlets: tuple[str, ...]) -> None:
        folder = tmp_path / f"d{n}"
        folder.mkdir()
        for outlet in outlets:
            for i in range(3):
                (folder / f"{outlet}{i}.jsonl").write_text(
                    f'{{"url": "https://www.{outlet}.de/{n}/{i}", "text": "Bericht {n} {i} '
                    f'aus der Stadt, mit Einzelheiten zum Ereignis des Tages."}}\n',
                    encoding="utf-8")
        stages.run_batch(readers.list_input_files(folder), date(2023, 3, n), settings)

    for n in (1, 2, 3):
        day(n, ("taz", "zeit"))
    with pytest.raises(QualityGateError,
                       match=r"volume_ratio_low 0\.0 \(threshold 0\.1: lowest: zeit\.de at 0\.0x"):
        day(4, ("taz",))
