"""Records passed between the reading, parsing and loading steps of one shard."""

from __future__ import annotations

from dataclasses import dataclass, field

EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RawRecord:
    """One article's raw text, decoded, with its lineage."""

    source_file: str
    locator: str
    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    """A record (or a whole file) that could not be loaded, and why."""

    source_file: str
    locator: str
    reason_code: str
    reason: str
    excerpt: str | None = None

    @classmethod
    def of(cls, source_file: str, locator: str, reason_code: str, reason: str,
           raw: str | bytes | None = None) -> Reject:
        excerpt: str | None = None
        if isinstance(raw, bytes):
            excerpt = raw[:EXCERPT_CHARS].decode("utf-8", errors="backslashreplace")
        elif raw is not None:
            excerpt = raw[:EXCERPT_CHARS]
        return cls(source_file, locator, reason_code, reason, excerpt)

    def row(self, run_id: str) -> dict[str, str | None]:
        """The ``rejects`` table row of this reject (batch_date comes from the partition)."""
        return {"source_file": self.source_file, "locator": self.locator,
                "reason": self.reason, "reason_code": self.reason_code,
                "excerpt": self.excerpt, "run_id": run_id}


@dataclass
class ShardCounts:
    """Reconciliation figures of one shard: read = loaded + rejected."""

    files: int = 0
    records_read: int = 0
    articles_loaded: int = 0
    records_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
