"""What the report shows, read from the catalog: the report's data model and its SQL.

Kept apart from the charts and the HTML so that the figures of a report can be collected (and
tested) without matplotlib, and so that every query the page depends on is in one place.
``collect`` reads the ``news.duckdb`` catalog through an open connection (read-only, values as
bind parameters); only the current run of each batch counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

TOP_ENTITIES = 15


class ReportError(RuntimeError):
    """The report cannot be made (nothing published in the range, unknown entity, ...)."""


@dataclass(frozen=True)
class BatchRun:
    batch_date: date
    run_id: str
    finished_at: datetime | None
    input_files: int
    records_read: int
    articles_loaded: int
    records_rejected: int
    entities_found: int

    @property
    def reconciles(self) -> bool:
        return self.records_read == self.articles_loaded + self.records_rejected


@dataclass(frozen=True)
class RejectReason:
    reason_code: str
    records: int
    batches: list[date]
    reason: str
    example: str


@dataclass(frozen=True)
class SourceRow:
    source: str
    articles: int
    distinct_articles: int
    languages: str


@dataclass(frozen=True)
class LanguageRow:
    language: str
    articles: int
    distinct_articles: int
    sources: int


@dataclass(frozen=True)
class TopEntity:
    label: str
    norm: str
    mentions: int
    articles: int
    batches: int


@dataclass(frozen=True)
class CheckRow:
    batch_date: date
    check: str
    status: str
    observed: float | None
    threshold: float | None
    detail: str


@dataclass(frozen=True)
class EntitySeries:
    norm: str
    labels: list[str]
    mentions_in_range: int
    points: list[tuple[date, str, int]]
    """(publication day, its precision day/month/year, mentions), whole warehouse."""
    chosen: bool
    """Named with --entity (else the range's top entity)."""


@dataclass(frozen=True)
class ReportData:
    start: date
    end: date
    warehouse: Path
    batches: list[BatchRun]
    rejects: list[RejectReason]
    sources: list[SourceRow]
    languages: list[LanguageRow]
    entities: list[TopEntity]
    distinct_entities: int
    checks: list[CheckRow]
    batch_languages: list[tuple[date, str, int]]
    published: list[tuple[date | None, str, int]]
    """(publication day or None when undated, its precision day/month/year, articles)."""
    entity: EntitySeries | None
    places: list[PlaceRow] = field(default_factory=list)
    """Resolved places of the range with coordinates, most mentioned first."""
    countries: list[CountryRow] = field(default_factory=list)


@dataclass(frozen=True)
class PlaceRow:
    name: str
    feature: str
    country_code: str | None
    latitude: float
    longitude: float
    mentions: int
    articles: int


@dataclass(frozen=True)
class CountryRow:
    country_code: str
    name: str
    mentions: int
    articles: int


# --- queries --------------------------------------------------------------------------------------

_RUNS = """
SELECT batch_date, run_id, finished_at, input_files, records_read, articles_loaded,
       records_rejected, entities_found
FROM runs
WHERE is_current AND batch_date BETWEEN ? AND ?
ORDER BY batch_date
"""

_REJECTS = """
SELECT
    reason_code,
    count(*) AS records,
    list(DISTINCT batch_date ORDER BY batch_date) AS batches,
    first(reason ORDER BY batch_date, source_file, locator) AS reason,
    first(batch_date || ': ' || source_file || coalesce(' / ' || member, '')
          || ' (' || locator || ')' ORDER BY batch_date, source_file, locator) AS example
FROM rejects
WHERE batch_date BETWEEN ? AND ?
  AND run_id IN (SELECT run_id FROM runs WHERE is_current)
GROUP BY reason_code
ORDER BY records DESC, reason_code
"""

_SOURCES = """
WITH a AS (
    SELECT coalesce(source, '(unknown)') AS source, coalesce(language, '?') AS language,
           article_id
    FROM articles
    WHERE batch_date BETWEEN ? AND ?
),
per_language AS (
    SELECT source, language, count(*) AS n FROM a GROUP BY source, language
),
language_lists AS (
    SELECT source, string_agg(language || ' ' || n, ', ' ORDER BY n DESC, language) AS languages
    FROM per_language
    GROUP BY source
)
SELECT a.source, count(*) AS articles, count(DISTINCT a.article_id) AS distinct_articles,
       any_value(l.languages) AS languages
FROM a JOIN language_lists AS l USING (source)
GROUP BY a.source
ORDER BY articles DESC, a.source
"""

_LANGUAGES = """
SELECT coalesce(language, '?') AS language, count(*) AS articles,
       count(DISTINCT article_id) AS distinct_articles,
       count(DISTINCT coalesce(source, '(unknown)')) AS sources
FROM articles
WHERE batch_date BETWEEN ? AND ?
GROUP BY 1
ORDER BY articles DESC, language
"""

_TOP_ENTITIES = """
SELECT label, norm, count(*) AS mentions, count(DISTINCT article_id) AS articles,
       count(DISTINCT batch_date) AS batches
FROM entities
WHERE batch_date BETWEEN ? AND ?
GROUP BY label, norm
ORDER BY mentions DESC, articles DESC, norm, label
LIMIT ?
"""

_DISTINCT_ENTITIES = """
SELECT count(*) FROM (SELECT DISTINCT label, norm FROM entities WHERE batch_date BETWEEN ? AND ?)
"""

_CHECKS = """
SELECT batch_date, "check", status, observed, threshold, detail
FROM quality_checks
WHERE batch_date BETWEEN ? AND ?
  AND run_id IN (SELECT run_id FROM runs WHERE is_current)
ORDER BY batch_date, "check"
"""

_BATCH_LANGUAGES = """
SELECT batch_date, coalesce(language, '?') AS language, count(*) AS articles
FROM articles
WHERE batch_date BETWEEN ? AND ?
GROUP BY ALL
ORDER BY ALL
"""

_PUBLISHED = """
SELECT published_day,
       CASE WHEN published_precision IN ('month', 'year') THEN published_precision ELSE 'day'
       END AS day_precision,
       count(*) AS articles
FROM articles
WHERE batch_date BETWEEN ? AND ?
GROUP BY ALL
ORDER BY ALL NULLS LAST
"""

_ENTITY_LABELS = """
SELECT label, count(*) AS mentions FROM entities WHERE norm = ? GROUP BY label
ORDER BY mentions DESC, label
"""

_ENTITY_CASEFOLD = """
SELECT norm, count(*) AS mentions FROM entities WHERE lower(norm) = lower(?)
GROUP BY norm ORDER BY mentions DESC, norm LIMIT 1
"""

_ENTITY_SIMILAR = """
SELECT norm FROM entities WHERE contains(lower(norm), lower(?))
GROUP BY norm ORDER BY count(*) DESC, norm LIMIT 5
"""

_ENTITY_IN_RANGE = "SELECT count(*) FROM entities WHERE norm = ? AND batch_date BETWEEN ? AND ?"

_ENTITY_SERIES = """
SELECT day, day_precision, sum(mentions)::BIGINT AS mentions
FROM entity_mentions_daily
WHERE norm = ?
GROUP BY ALL
ORDER BY ALL
"""


_PLACES = """
SELECT name_en, feature, country_code, latitude, longitude, count(*) AS mentions,
       count(DISTINCT article_id) AS articles
FROM places
WHERE batch_date BETWEEN ? AND ? AND latitude IS NOT NULL AND longitude IS NOT NULL
GROUP BY ALL
ORDER BY mentions DESC, name_en
"""

_COUNTRIES = """
WITH names AS (
    SELECT country_code, name_en FROM places WHERE feature = 'country' GROUP BY ALL
)
SELECT p.country_code, coalesce(any_value(n.name_en), p.country_code) AS name,
       count(*) AS mentions, count(DISTINCT p.article_id) AS articles
FROM places AS p LEFT JOIN names AS n USING (country_code)
WHERE p.batch_date BETWEEN ? AND ? AND p.country_code IS NOT NULL
GROUP BY p.country_code
ORDER BY mentions DESC, p.country_code
"""


def _rows(con: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql, list(params)).fetchall()
    return rows


def collect(con: Any, warehouse: Path, start: date, end: date,
            entity: str | None) -> ReportData:
    """Everything the report shows, from an open catalog connection."""
    rng = (start, end)
    batches = [BatchRun(*row) for row in _rows(con, _RUNS, rng)]
    if not batches:
        first, last, count = _rows(con, "SELECT min(batch_date), max(batch_date), count(*) "
                                   "FROM runs WHERE is_current", ())[0]
        hint = (f"; it has {count} published batch(es), {first} to {last}" if count
                else "; nothing is published yet")
        raise ReportError(f"no published batch between {start} and {end} in {warehouse}{hint}")
    top = [TopEntity(*row) for row in _rows(con, _TOP_ENTITIES, (*rng, TOP_ENTITIES))]
    distinct = _rows(con, _DISTINCT_ENTITIES, rng)[0][0]
    return ReportData(
        start=start,
        end=end,
        warehouse=warehouse,
        batches=batches,
        rejects=[RejectReason(*row) for row in _rows(con, _REJECTS, rng)],
        sources=[SourceRow(*row) for row in _rows(con, _SOURCES, rng)],
        languages=[LanguageRow(*row) for row in _rows(con, _LANGUAGES, rng)],
        entities=top,
        distinct_entities=int(distinct),
        checks=[CheckRow(*row) for row in _rows(con, _CHECKS, rng)],
        batch_languages=[(d, lang, int(n)) for d, lang, n in _rows(con, _BATCH_LANGUAGES, rng)],
        published=[(d, p, int(n)) for d, p, n in _rows(con, _PUBLISHED, rng)],
        entity=_entity_series(con, entity, top, start, end),
        places=[PlaceRow(*row) for row in _rows(con, _PLACES, rng)],
        countries=[CountryRow(*row) for row in _rows(con, _COUNTRIES, rng)],
    )


def _entity_series(con: Any, entity: str | None, top: Sequence[TopEntity], start: date,
                   end: date) -> EntitySeries | None:
    if entity is None:
        if not top:
            return None
        norm = top[0].norm
    else:
        norm = entity.strip()
        if not _rows(con, _ENTITY_LABELS, (norm,)):
            match = _rows(con, _ENTITY_CASEFOLD, (norm,))
            if not match:
                similar = [row[0] for row in _rows(con, _ENTITY_SIMILAR, (norm,))]
                hint = f" (did you mean {', '.join(repr(s) for s in similar)}?)" if similar \
                    else ""
                raise ReportError(f"entity {entity!r} is not in the warehouse's entities "
                                  f"(entities.norm){hint}")
            norm = match[0][0]
    labels = [row[0] for row in _rows(con, _ENTITY_LABELS, (norm,))]
    in_range = int(_rows(con, _ENTITY_IN_RANGE, (norm, start, end))[0][0])
    points = [(d, p, int(n)) for d, p, n in _rows(con, _ENTITY_SERIES, (norm,))]
    return EntitySeries(norm, labels, in_range, points, chosen=entity is not None)
