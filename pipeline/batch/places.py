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
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq

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


def _read(folder: Path, columns: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in sorted(folder.glob("*.parquet")):
        names = set(pq.ParquetFile(part).schema_arrow.names)
        rows.extend(pq.read_table(part, columns=[c for c in columns if c in names]).to_pylist())
    return rows


def place_rows(version: Path, run_id: str, gaz: places.Gazetteer) -> list[dict[str, Any]]:
    """One row per LOC entity of the version, in article and mention order."""
    mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _read(version / "entities",
                     ["article_id", "text", "label", "start_char", "end_char", "field"]):
        if row["label"] == "LOC":
            mentions[str(row["article_id"])].append(row)
    if not mentions:
        return []
    out: list[dict[str, Any]] = []
    for article in _read(version / "articles", ["article_id", "title", "teaser", "body",
                                                "source_domain"]):
        found = mentions.pop(str(article["article_id"]), [])
        if not found:
            continue
        text = " ".join(str(article.get(f) or "") for f in ("title", "teaser", "body"))
        try:
            resolved = places.resolve_article([str(m["text"]) for m in found],
                                              outlet_country(article.get("source_domain"), gaz),
                                              text, gaz)
        except Exception as exc:  # one article's failure must not stop the batch
            LOGGER.error("places of article %s not resolved: %s", article["article_id"], exc)
            resolved = [places.Resolution(str(m["text"]), None, "none", 0.0, "error")
                        for m in found]
        out.extend(_row(m, r, run_id) for m, r in zip(found, resolved, strict=True))
    for article_id, orphans in mentions.items():  # entities whose article is not in the version
        LOGGER.warning("places: %d LOC mentions of article %s without its article row",
                       len(orphans), article_id)
        out.extend(_row(m, places.Resolution(str(m["text"]), None, "none", 0.0, "error"), run_id)
                   for m in orphans)
    return out


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
    rows = place_rows(version, run_id,
                      places.gazetteer(settings.warehouse / derived.INDEX_DIR))
    writer = storage.RowGroupWriter(out_dir or version / TABLE, TABLE, settings.row_group_rows,
                                    settings.max_file_rows)
    writer.write(storage.rows_to_table(TABLE, rows))
    writer.close()
    resolved = sum(1 for r in rows if r["reason"] is None)
    LOGGER.info("places of %s: %d LOC mentions, %d resolved", version.name, len(rows), resolved)
    return len(rows)


def ensure_places(settings: Settings, batches: Iterable[date] | None = None) -> list[Path]:
    """Derive ``places`` for published versions that lack it (see ``derived.ensure_table``)."""
    return derived.ensure_table(settings, TABLE, derive_places, batches)
