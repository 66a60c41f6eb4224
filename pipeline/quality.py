"""Quality gate: checks on a built (not yet published) batch version.

Each check compares an observed figure with a threshold from the settings
(``quality_thresholds``, name -> number). A failing check blocks the publish: the previous
state of the batch stays live, and the error names every failing check. An operator can let a
run through despite named checks (``quality_override``, e.g. ``newsetl run --allow volume``);
the override is recorded as status ``overridden``. Results are kept in the ``quality_checks``
table (published with the batch) and, for a blocked run, in its staging folder.

Checks whose inputs are missing (no history for the volume trend, no German articles for entity
coverage) are ``skipped``, never silently passed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

DEFAULT_THRESHOLDS: dict[str, float] = {
    "empty_body_share": 0.5,        # max share of records without usable text
    "unparseable_date_share": 0.5,  # max share of articles whose given date could not be read
    "dates_outside_interval": 0.2,  # max share of articles with a date after the interval
    "language_shift": 0.6,          # max total-variation distance to the trailing language mix
    "volume_ratio_low": 0.1,        # min articles / trailing average (7 batches)
    "volume_ratio_high": 10.0,      # max articles / trailing average
    "duplicate_rate": 0.5,          # max share of records rejected as duplicates
    "entity_coverage": 0.3,         # min share of German articles with at least one entity
}
TRAILING_BATCHES = 7
MIN_HISTORY = 3


@dataclass(frozen=True)
class Check:
    check: str
    status: str  # pass | fail | skipped | overridden
    observed: float | None
    threshold: float
    detail: str

    def row(self, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "check": self.check, "status": self.status,
                "observed": self.observed, "threshold": self.threshold, "detail": self.detail}


class QualityGateError(RuntimeError):
    """A batch failed the quality gate; nothing was published."""


def _glob(folder: Path) -> str:
    return str(folder / "*.parquet")


def _scalar(con: Any, sql: str, params: Sequence[Any] = ()) -> Any:
    row = con.execute(sql, list(params)).fetchone()
    return row[0] if row else None


def run_checks(version: Path, history: Sequence[Path], thresholds: Mapping[str, float],
               override: Sequence[str], german_ner: bool, batch_date: date) -> list[Check]:
    """All checks on the built version; ``history`` are the current versions of earlier
    batches (most recent last) for the trend checks."""
    import duckdb

    t = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in thresholds.items()}}
    con = duckdb.connect()
    articles, rejects = _glob(version / "articles"), _glob(version / "rejects")
    entities = _glob(version / "entities")
    n_articles = _scalar(con, "SELECT count(*) FROM read_parquet(?)", [articles])
    n_rejects = _scalar(con, "SELECT count(*) FROM read_parquet(?)", [rejects])
    read = n_articles + n_rejects
    checks: list[Check] = []

    def share(name: str, numerator: int, denominator: int, what: str,
              minimum: bool = False) -> None:
        if denominator == 0:
            checks.append(Check(name, "skipped", None, t[name], f"no {what}"))
            return
        observed = round(numerator / denominator, 4)
        ok = observed >= t[name] if minimum else observed <= t[name]
        checks.append(Check(name, "pass" if ok else "fail", observed, t[name],
                            f"{numerator} of {denominator} {what}"))

    empty = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE reason_code IN "
                         "('empty_file', 'no_body', 'no_text', 'no_records')", [rejects])
    share("empty_body_share", empty, read, "records without usable text")
    unparseable = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE len(list_filter("
                               "warnings, lambda w: w LIKE 'unparseable date%')) > 0", [articles])
    share("unparseable_date_share", unparseable, n_articles, "articles with an unreadable date")
    outside = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE published_flag LIKE "
                           "'%after_interval%'", [articles])
    share("dates_outside_interval", outside, n_articles, "articles dated after the interval")
    duplicates = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE reason_code = "
                              "'duplicate'", [rejects])
    share("duplicate_rate", duplicates, read, "records that were duplicates")

    trailing = [h for h in history if (h / "articles").is_dir()][-TRAILING_BATCHES:]
    if len(trailing) < MIN_HISTORY:
        for name in ("volume_ratio_low", "language_shift"):
            checks.append(Check(name, "skipped", None, t[name],
                                f"{len(trailing)} earlier batches, {MIN_HISTORY} needed"))
    else:
        files = [_glob(h / "articles") for h in trailing]
        counts = [_scalar(con, "SELECT count(*) FROM read_parquet(?)", [f]) for f in files]
        average = sum(counts) / len(counts)
        ratio = round(n_articles / average, 4) if average else None
        detail = f"{n_articles} articles vs {average:.1f} on average over {len(counts)} batches"
        low_ok = ratio is None or ratio >= t["volume_ratio_low"]
        high_ok = ratio is None or ratio <= t["volume_ratio_high"]
        checks.append(Check("volume_ratio_low", "pass" if low_ok else "fail", ratio,
                            t["volume_ratio_low"], detail))
        checks.append(Check("volume_ratio_high", "pass" if high_ok else "fail", ratio,
                            t["volume_ratio_high"], detail))
        now = dict(con.execute("SELECT coalesce(language, '?'), count(*) FROM read_parquet(?) "
                               "GROUP BY 1", [articles]).fetchall())
        before = dict(con.execute("SELECT coalesce(language, '?'), count(*) FROM "
                                  "read_parquet(?, union_by_name = true) GROUP BY 1",
                                  [files]).fetchall())
        total_now, total_before = sum(now.values()) or 1, sum(before.values()) or 1
        distance = round(0.5 * sum(abs(now.get(k, 0) / total_now - before.get(k, 0) /
                                       total_before) for k in set(now) | set(before)), 4)
        checks.append(Check("language_shift", "pass" if distance <= t["language_shift"]
                            else "fail", distance, t["language_shift"],
                            f"languages now {now}, trailing {before}"))
    if not any(c.check == "volume_ratio_high" for c in checks):
        checks.append(Check("volume_ratio_high", "skipped", None, t["volume_ratio_high"],
                            "not enough history"))
    german = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE language = 'de'",
                     [articles])
    if not german_ner or german == 0:
        checks.append(Check("entity_coverage", "skipped", None, t["entity_coverage"],
                            "no German articles" if german_ner else "no German NER configured"))
    else:
        covered = _scalar(con, "SELECT count(DISTINCT a.article_id) FROM read_parquet(?) a "
                               "JOIN read_parquet(?) e USING (article_id) WHERE a.language = "
                               "'de'", [articles, entities])
        share("entity_coverage", covered, german, "German articles with entities", minimum=True)
    con.close()
    return [Check(c.check, "overridden", c.observed, c.threshold, c.detail + " (overridden)")
            if c.status == "fail" and c.check in override else c for c in checks]


def failures(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


def save_report(path: Path, checks: Sequence[Check], run_id: str) -> None:
    path.write_text(json.dumps([c.row(run_id) for c in checks], indent=2) + "\n",
                    encoding="utf-8")


def message(batch_date: date, failed: Sequence[Check]) -> str:
    return (f"batch {batch_date} blocked by the quality gate: " + "; ".join(
        f"{c.check} {c.observed} (threshold {c.threshold}: {c.detail})" for c in failed)
        + ". The previous state stays published; fix the input, or re-run allowing the "
        "check(s) with --allow " + ",".join(c.check for c in failed))
