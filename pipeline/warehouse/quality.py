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
    "language_shift": 0.6,          # max total-variation distance to a source's usual mix
    "volume_ratio_low": 0.1,        # min articles of a source / its trailing average (7 batches)
    "volume_ratio_high": 10.0,      # max articles of a source / its trailing average
    "duplicate_rate": 0.5,          # max share of records rejected as duplicates
    "entity_coverage": 0.3,         # min share of articles with a NER model with an entity
    "rejected_share": 0.5,          # max share of records rejected, for any reason
    "internal_error_share": 0.01,   # max share of records a pipeline bug rejected
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
               override: Sequence[str], ner_languages: Sequence[str],
               batch_date: date) -> list[Check]:
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
    # An all-rejected batch must not replace a good version, nor may a bug pass silently.
    share("rejected_share", n_rejects, read, "records rejected")
    internal = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE reason_code = "
                            "'internal_error'", [rejects])
    share("internal_error_share", internal, read, "records rejected by an internal error")

    trailing = [h for h in history if (h / "articles").is_dir()][-TRAILING_BATCHES:]
    checks.extend(_source_trends(con, articles, trailing, t))
    languages = sorted(ner_languages)
    enriched = _scalar(con, "SELECT count(*) FROM read_parquet(?) WHERE list_contains(?, "
                            "language)", [articles, languages]) if languages else 0
    if not languages or enriched == 0:
        checks.append(Check("entity_coverage", "skipped", None, t["entity_coverage"],
                            f"no articles in {', '.join(languages)}" if languages
                            else "no NER model configured"))
    else:
        covered = _scalar(con, "SELECT count(DISTINCT a.article_id) FROM read_parquet(?) a "
                               "JOIN read_parquet(?) e USING (article_id) WHERE "
                               "list_contains(?, a.language)", [articles, entities, languages])
        share("entity_coverage", covered, enriched,
              f"articles in a language with a model ({', '.join(languages)}) with entities",
              minimum=True)
    con.close()
    return [Check(c.check, "overridden", c.observed, c.threshold, c.detail + " (overridden)")
            if c.status == "fail" and c.check in override else c for c in checks]


_BY_SOURCE = ("SELECT coalesce(source_domain, site_name) AS src, coalesce(language, '?'), "
              "count(*) FROM read_parquet(?, union_by_name = true) "
              "WHERE coalesce(source_domain, site_name) IS NOT NULL GROUP BY ALL")


def _source_trends(con: Any, articles: str, trailing: Sequence[Path],
                   t: Mapping[str, float]) -> list[Check]:
    """Per source (domain, else site name): volume against its trailing average, and its
    language mix against its usual one. Sources need ``MIN_HISTORY`` earlier batches; a source
    that was in them and is missing now has volume 0 (a broken feed). Articles with no known
    source are not a source and are left out."""
    names = ("volume_ratio_low", "volume_ratio_high", "language_shift")
    if len(trailing) < MIN_HISTORY:
        return [Check(n, "skipped", None, t[n], f"{len(trailing)} earlier batches, "
                      f"{MIN_HISTORY} needed") for n in names]
    now = con.execute(_BY_SOURCE, [articles]).fetchall()
    per_batch = [con.execute(_BY_SOURCE, [_glob(h / "articles")]).fetchall() for h in trailing]
    mix_now: dict[str, dict[str, int]] = {}
    for src, lang, n in now:
        mix_now.setdefault(src, {})[lang] = n
    mix_before: dict[str, dict[str, int]] = {}
    batches_with: dict[str, int] = {}
    for rows in per_batch:
        for src in {r[0] for r in rows}:
            batches_with[src] = batches_with.get(src, 0) + 1
        for src, lang, n in rows:
            mix_before.setdefault(src, {})
            mix_before[src][lang] = mix_before[src].get(lang, 0) + n
    ratios: dict[str, float] = {}
    shifts: dict[str, float] = {}
    for src, seen_in in batches_with.items():
        if seen_in < MIN_HISTORY:
            continue
        average = sum(mix_before[src].values()) / len(trailing)
        ratios[src] = round(sum(mix_now.get(src, {}).values()) / average, 4)
        if src in mix_now:
            a, b = mix_now[src], mix_before[src]
            ta, tb = sum(a.values()), sum(b.values())
            shifts[src] = round(0.5 * sum(abs(a.get(k, 0) / ta - b.get(k, 0) / tb)
                                          for k in set(a) | set(b)), 4)
    if not ratios:
        return [Check(n, "skipped", None, t[n], f"no source in {MIN_HISTORY} of the last "
                      f"{len(trailing)} batches") for n in names]
    low_src = min(ratios, key=ratios.__getitem__)
    high_src = max(ratios, key=ratios.__getitem__)
    out = [
        Check("volume_ratio_low", "pass" if ratios[low_src] >= t["volume_ratio_low"]
              else "fail", ratios[low_src], t["volume_ratio_low"],
              f"lowest: {low_src} at {ratios[low_src]}x its trailing average "
              f"({len(ratios)} sources with history)"),
        Check("volume_ratio_high", "pass" if ratios[high_src] <= t["volume_ratio_high"]
              else "fail", ratios[high_src], t["volume_ratio_high"],
              f"highest: {high_src} at {ratios[high_src]}x its trailing average"),
    ]
    if shifts:
        worst = max(shifts, key=shifts.__getitem__)
        out.append(Check("language_shift", "pass" if shifts[worst] <= t["language_shift"]
                         else "fail", shifts[worst], t["language_shift"],
                         f"largest: {worst}, languages now {mix_now[worst]}, usually "
                         f"{mix_before[worst]}"))
    else:
        out.append(Check("language_shift", "skipped", None, t["language_shift"],
                         "no source with history in this batch"))
    return out


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
