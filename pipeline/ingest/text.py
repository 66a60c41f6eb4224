"""The reader of plain text dumps: one file, one record (split into title, teaser and body by
``pipeline.transform.textdump`` later)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pipeline.ingest.base import ReadContext, read_decoded
from pipeline.ingest.containers import Leaf
from pipeline.ingest.records import RawRecord, Reject

LOGGER = logging.getLogger(__name__)


def read_text(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """A text dump holds one article: the whole decoded file is one record."""
    decoded = read_decoded(leaf, ctx, ctx.max_record_bytes)
    if isinstance(decoded, Reject):
        yield decoded
        return
    text, encoding, warnings = decoded
    yield RawRecord(ctx.source_file, "file", text, encoding, warnings, leaf.member, "text")


