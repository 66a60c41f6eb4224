"""Records passed between the reading, parsing and loading steps of one shard."""

from __future__ import annotations

from dataclasses import dataclass, field

EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Fields:
    """What a structured format (JSON, CSV, HTML, feed, WARC) says about one article.

    Values are as written in the source (dates are strings); the parse stage normalises them.
    """

    body: str
    title: str | None = None
    teaser: str | None = None
    published: str | None = None
    modified: str | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    site_name: str | None = None
    section: str | None = None
    source_id: str | None = None
    fetched_at: str | None = None
    layout: str | None = None


@dataclass(frozen=True)
class RawRecord:
    """One article, decoded, with its lineage (file, archive member, place in the file).

    Text dumps carry their whole text and are split into title/teaser/body by the parse stage;
    structured formats carry ``fields`` already (``text`` is then the body).
    """

    source_file: str
    locator: str
    text: str
    encoding: str
    warnings: tuple[str, ...] = ()
    member: str | None = None
    format: str = "text"
    fields: Fields | None = None


@dataclass(frozen=True)
class Reject:
    """A record (or a whole file) that could not be loaded, and why."""

    source_file: str
    locator: str
    reason_code: str
    reason: str
    excerpt: str | None = None
    member: str | None = None

    @classmethod
    def of(cls, source_file: str, locator: str, reason_code: str, reason: str,
           raw: str | bytes | None = None, member: str | None = None) -> Reject:
        excerpt: str | None = None
        if isinstance(raw, bytes):
            excerpt = raw[:EXCERPT_CHARS].decode("utf-8", errors="backslashreplace")
        elif raw is not None:
            excerpt = raw[:EXCERPT_CHARS]
        return cls(source_file, locator, reason_code, reason, excerpt, member)

    def row(self, run_id: str) -> dict[str, str | None]:
        """The ``rejects`` table row of this reject (batch_date comes from the partition)."""
        return {"source_file": self.source_file, "member": self.member,
                "locator": self.locator, "reason": self.reason,
                "reason_code": self.reason_code, "excerpt": self.excerpt, "run_id": run_id}


@dataclass
class ShardCounts:
    """Reconciliation figures of one shard: read = loaded + rejected."""

    files: int = 0
    records_read: int = 0
    articles_loaded: int = 0
    records_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
