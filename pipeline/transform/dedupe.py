"""Exact duplicates within a batch, and the lineage a duplicate reject names.

One ``Deduper`` serves both places that meet copies: a parse shard (its own records) and publish
(records of different shards of the same batch). The first copy is kept.
"""

from __future__ import annotations

import logging

from pipeline.ingest.records import RawRecord

LOGGER = logging.getLogger(__name__)


class Deduper:
    """Which records of a batch are duplicates of one seen earlier (the first one is kept).

    Same ``article_id`` (same URL, source id or content), or the same content hash unless both
    records have their own URL (the same agency story at two outlets is two articles; the
    ``content_hash`` column still shows them as copies).
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._hashes: dict[str, tuple[str, bool]] = {}  # hash -> (first lineage, all had URLs)

    def check(self, article_id: str, content_hash: str, url: str | None,
              lineage: str) -> str | None:
        """The lineage of the earlier copy, or None (and remember this one) if it is new."""
        if article_id in self._ids:
            return self._ids[article_id]
        earlier = self._hashes.get(content_hash)
        if earlier is not None and (url is None or not earlier[1]):
            return earlier[0]
        self._ids[article_id] = lineage
        first, all_urls = earlier or (lineage, True)
        self._hashes[content_hash] = (first, all_urls and url is not None)
        return None


def lineage(rec: RawRecord) -> str:
    """``file [member] locator`` as a person would look it up."""
    member = f" [{rec.member}]" if rec.member else ""
    return f"{rec.source_file}{member} {rec.locator}" if rec.locator != "file" else \
        f"{rec.source_file}{member}"


