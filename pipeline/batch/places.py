"""The ``places`` table of a built version: its LOC entities resolved to places
(``pipeline.enrich.places``), one row per mention, resolved or kept with its reason.

Derived from the version's own ``entities`` and ``articles`` files when the batch is published
(inside the version before the swap, like ``article_entities``), and for versions published
before the table existed on the next catalog refresh (``ensure_places``): only published rows are
read, nothing is parsed or enriched again. The context of a mention is its article: the other
LOC mentions, the words of its title, teaser and body, and the outlet's country from the
country-code top-level domain of its source (``.de``, ``.at``, ``.co.uk``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, Final

from pipeline.enrich import places
from pipeline.settings import Settings
from pipeline.warehouse import derived, storage

LOGGER = logging.getLogger(__name__)

TABLE: Final = "places"
_GENERIC_TLD: Final = {"uk": "GB"}


def outlet_country(domain: str | None, gaz: places.Gazetteer) -> str | None:
    """ISO country of a domain's country-code top-level domain; None for generic ones."""
    if not domain:
        return None
    tld = domain.rstrip(".").rsplit(".", 1)[-1].lower()
    code = _GENERIC_TLD.get(tld, tld.upper())
    return code if len(tld) == 2 and code in gaz.countries else None


_MENTIONS_SQL: Final = """
SELECT
    e.article_id, e.field, e.start_char, e.end_char, e.text,
    a.title, a.teaser, a.body, a.source_domain
FROM read_parquet($entities, union_by_name = true) AS e
LEFT JOIN read_parquet($articles, union_by_name = true) AS a USING (article_id)
WHERE e.label = 'LOC'
ORDER BY e.article_id, e.field NULLS FIRST, e.start_char
"""
_BATCH_ROWS: Final = 8_192


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.glob("*.parquet"))


def place_rows(version: Path, run_id: str, gaz: places.Gazetteer) -> Iterator[dict[str, Any]]:
    """One row per LOC entity of the version, by article. Streamed: DuckDB joins the mentions
    with their articles and hands them over a few thousand at a time, so memory follows that,
    not the batch (an article's body comes with each of its mentions, never all at once)."""
    import duckdb

    entities, articles = _files(version / "entities"), _files(version / "articles")
    if not entities or not articles:
        return
    con = duckdb.connect(config={"memory_limit": derived.MEMORY_LIMIT})
    try:
        reader = con.sql(_MENTIONS_SQL, params={"entities": entities, "articles": articles}
                         ).to_arrow_reader(_BATCH_ROWS)
        pending: list[dict[str, Any]] = []
        for batch in reader:
            for row in batch.to_pylist():
                if pending and pending[-1]["article_id"] != row["article_id"]:
                    yield from _article_rows(pending, run_id, gaz)
                    pending = []
                pending.append(row)
        if pending:
            yield from _article_rows(pending, run_id, gaz)
    finally:
        con.close()


def _article_rows(found: list[dict[str, Any]], run_id: str,
                  gaz: places.Gazetteer) -> Iterator[dict[str, Any]]:
    """The rows of one article's LOC mentions, resolved together."""
    first = found[0]
    text = " ".join(str(first.get(f) or "") for f in ("title", "teaser", "body"))
    try:
        resolved = places.resolve_article([str(m["text"]) for m in found],
                                          outlet_country(first.get("source_domain"), gaz),
                                          text, gaz)
    except Exception as exc:  # one article's failure must not stop the batch
        LOGGER.error("places of article %s not resolved: %s", first["article_id"], exc)
        resolved = [places.Resolution(str(m["text"]), None, "none", 0.0, "error")
                    for m in found]
    for m, r in zip(found, resolved, strict=True):
        yield _row(m, r, run_id)


def _row(mention: dict[str, Any], r: places.Resolution, run_id: str) -> dict[str, Any]:
    p = r.place
    return {
        "article_id": mention["article_id"], "field": mention.get("field"),
        "start_char": mention["start_char"], "end_char": mention["end_char"],
        "text": mention["text"],
        "geonameid": p.geonameid if p else None, "name_en": p.name_en if p else None,
        "name_de": p.name_de if p else None, "feature": p.feature if p else None,
        "country_code": p.country_code if p else None,
        "admin1_code": p.admin1_code if p else None,
        "latitude": p.latitude if p else None, "longitude": p.longitude if p else None,
        "population": p.population if p else None,
        "method": r.method, "confidence": r.confidence, "reason": r.reason, "run_id": run_id,
    }


def derive_places(version: Path, run_id: str, settings: Settings,
                  out_dir: Path | None = None) -> int:
    """Write the version's ``places`` (into ``out_dir``, by default its own folder); rows."""
    gaz = places.gazetteer(settings.warehouse / derived.INDEX_DIR)
    writer = storage.RowGroupWriter(out_dir or version / TABLE, TABLE, settings.row_group_rows,
                                    settings.max_file_rows)
    rows: list[dict[str, Any]] = []
    resolved = 0
    for row in place_rows(version, run_id, gaz):
        rows.append(row)
        resolved += row["reason"] is None
        if len(rows) == settings.row_group_rows:
            writer.write(storage.rows_to_table(TABLE, rows))
            rows = []
    writer.write(storage.rows_to_table(TABLE, rows))
    writer.close()
    LOGGER.info("places of %s: %d LOC mentions, %d resolved", version.name, writer.rows,
                resolved)
    return writer.rows


def ensure_places(settings: Settings, batches: Iterable[date] | None = None) -> list[Path]:
    """Derive ``places`` for published versions that lack it (see ``derived.ensure_table``)."""
    return derived.ensure_table(settings, TABLE, derive_places, batches)
