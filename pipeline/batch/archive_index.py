"""Lookups into earlier batches that cost what the batch costs, not what the archive holds.

Three steps of a run need facts about every published batch: planning asks which earlier batch
read a file with the same bytes (``known_files``), enrichment which earlier article with the same
content one model version already enriched (``enriched_articles``), publish which earlier articles
share an LSH band with the batch's (``near_duplicate_candidates``). Reading each published
version for that grew with the archive: a thousand batches, a thousand manifests and article
files per run, and every earlier MinHash signature in memory at publish.

This index answers them with B-tree lookups: a SQLite file, ``_index/archive.sqlite`` beside the
warehouse's tables, with one row per file read, per enriched article and per article band. It is
derived data, never the truth: each batch's rows are replaced in one transaction after its
version is swapped in (``record``), and every lookup first checks the index against the
``_current`` pointers (``sync``: a ``readlink`` per published batch, no file read) and indexes
whatever it lacks: versions published before the index existed, or by a run that crashed between
the swap and ``record``. Rows of a batch count only while their run is the batch's current one,
so answers equal those of reading every current version, in the same order (tests compare them
on random archives). Deleting the file is safe: the next lookup rebuilds it, once.

Why SQLite and not more Parquet: a lookup of 1,000 keys must touch a few pages per key, not every
row group of a growing table (random hashes fall in every row group). SQLite's WAL lets readers
run beside one writer; writers (publishes of other batches) wait for each other (``busy_timeout``).
WAL needs shared memory, so it is used on local file systems only: on a network file system
(NFS, CIFS) the index uses a rollback journal, which relies on the server's byte-range locks
(NFSv4); see README, "Several hosts".
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.transform import neardup
from pipeline.warehouse import storage

LOGGER = logging.getLogger(__name__)

INDEX_DIR: Final = "_index"
INDEX_FILE: Final = "archive.sqlite"
SCHEMA_VERSION: Final = 2
MAX_RECENT_BATCHES: Final = 62
"""Batches whose band rows may wait in ``bands_new`` when no compaction merges them (``record``
merges the older ones past this): two months of nightly runs."""
BUSY_TIMEOUT_MS: Final = 120_000

_DDL: Final = """
CREATE TABLE IF NOT EXISTS batches (
    bid INTEGER PRIMARY KEY,
    batch_date TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    recent INTEGER NOT NULL DEFAULT 1  -- its band rows are in bands_new
);
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT NOT NULL, bid INTEGER NOT NULL, seq INTEGER NOT NULL, source_file TEXT NOT NULL,
    PRIMARY KEY (sha256, bid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contents (
    content_hash TEXT NOT NULL, ner_model TEXT NOT NULL, bid INTEGER NOT NULL,
    seq INTEGER NOT NULL, article_id TEXT NOT NULL,
    PRIMARY KEY (content_hash, ner_model, bid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    bid INTEGER NOT NULL, seq INTEGER NOT NULL, article_id TEXT NOT NULL,
    cluster_id TEXT NOT NULL, minhash BLOB NOT NULL,
    PRIMARY KEY (bid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bands (
    code INTEGER NOT NULL, bid INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (code, bid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bands_new (
    code INTEGER NOT NULL, bid INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (code, bid, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_by_batch ON files (bid);
CREATE INDEX IF NOT EXISTS contents_by_batch ON contents (bid);
CREATE INDEX IF NOT EXISTS bands_by_batch ON bands (bid);
CREATE INDEX IF NOT EXISTS bands_new_by_batch ON bands_new (bid);
"""
_BUSY: Final = f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"
_SET_VERSION: Final = f"PRAGMA user_version = {SCHEMA_VERSION}"
_DROP_ALL: Final = tuple(f"DROP TABLE IF EXISTS {t}"
                         for t in ("files", "contents", "members", "bands", "bands_new",
                                   "batches"))
_DELETE_BATCH: Final = (
    "DELETE FROM files WHERE bid = ?", "DELETE FROM contents WHERE bid = ?",
    "DELETE FROM members WHERE bid = ?", "DELETE FROM bands WHERE bid = ?",
    "DELETE FROM bands_new WHERE bid = ?", "DELETE FROM batches WHERE bid = ?",
)
KNOWN_FILES_SQL: Final = (
    "SELECT f.sha256, b.batch_date, b.run_id, f.source_file FROM wanted w "
    "CROSS JOIN files f ON f.sha256 = w.k JOIN batches b USING (bid) "
    "WHERE b.batch_date <> ? ORDER BY b.batch_date, f.seq")
ENRICHED_SQL: Final = (
    "SELECT c.content_hash, b.batch_date, b.run_id, c.article_id FROM wanted w "
    "CROSS JOIN contents c ON c.content_hash = w.k AND c.ner_model = ? "
    "JOIN batches b USING (bid) ORDER BY b.batch_date, c.seq")
CANDIDATES_SQL: Final = (
    "SELECT n.code, b.batch_date, n.bid, n.seq, m.cluster_id "
    "FROM wanted w CROSS JOIN bands n ON n.code = w.k JOIN batches b USING (bid) "
    "JOIN members m ON m.bid = n.bid AND m.seq = n.seq WHERE b.batch_date <> :exclude "
    "UNION ALL "
    "SELECT n.code, b.batch_date, n.bid, n.seq, m.cluster_id "
    "FROM wanted w CROSS JOIN bands_new n ON n.code = w.k JOIN batches b USING (bid) "
    "JOIN members m ON m.bid = n.bid AND m.seq = n.seq WHERE b.batch_date <> :exclude")
MEMBERS_SQL: Final = (
    "SELECT m.article_id, m.cluster_id, m.minhash FROM json_each(?) j "
    "CROSS JOIN members m ON m.bid = j.value ->> 0 AND m.seq = j.value ->> 1 ORDER BY j.key")
"""The lookups: ``wanted`` (the batch's keys) first, in a ``CROSS JOIN`` (see ``_wanted``)."""
_RECENT_SQL: Final = "SELECT batch_date FROM batches WHERE recent = 1 ORDER BY batch_date"
_BAND_SALT: Final = np.arange(neardup.BANDS, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)


def band_codes(sigs: np.ndarray) -> np.ndarray:
    """``(n, BANDS)`` int64 codes of the signatures' band keys, the band mixed in: one integer
    column serves every band. Codes of different (band, key) pairs collide about once in 2^64;
    a collision only adds a candidate, which the clustering drops (it checks the band keys)."""
    keys = neardup.band_keys(sigs) if len(sigs) else np.empty((0, neardup.BANDS), np.uint64)
    return (keys ^ _BAND_SALT).view(np.int64)


@dataclass(frozen=True)
class Candidates:
    """Earlier articles sharing a band with the batch, in archive order (batch date, then the
    order of the batch's articles files), as ``neardup.cluster_arrays`` takes them."""

    article_ids: list[str]
    cluster_ids: list[str]
    signatures: np.ndarray


class ArchiveIndex:
    """The warehouse's lookup index (see the module docstring)."""

    def __init__(self, wh: storage.Warehouse) -> None:
        self.wh = wh
        self.path = wh.root / INDEX_DIR / INDEX_FILE

    # -- connection ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                              isolation_level=None)  # transactions are explicit
        try:
            con.execute(_BUSY)
            shared = storage.check_shared_storage(self.path.parent).network
            _journal(con, "delete" if shared else "wal")
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("PRAGMA temp_store = MEMORY")  # the lookups' key tables
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                with _transaction(con):
                    if version:  # an older layout: derived data, rebuilt from the versions
                        LOGGER.info("archive index %s: layout %s, rebuilt as %s", self.path,
                                    version, SCHEMA_VERSION)
                        for statement in _DROP_ALL:
                            con.execute(statement)
                    for statement in _DDL.split(";"):
                        if statement.strip():
                            con.execute(statement)
                    con.execute(_SET_VERSION)
            yield con
        finally:
            con.close()

    # -- writing -----------------------------------------------------------------------------

    def record(self, batch_date: date, version: Path) -> None:
        """Make ``version`` the batch's indexed state: its rows replace the batch's old ones in
        one transaction. Called after the swap; a crash before it is repaired by ``sync``."""
        rows = _VersionRows.read(version)
        with self._connect() as con:
            with _transaction(con):
                self._replace(con, batch_date, version.name, rows)
            recent = con.execute(_RECENT_SQL).fetchall()
            if len(recent) > MAX_RECENT_BATCHES:  # no compaction merged them: do it here
                self._merge(con, date.fromisoformat(recent[-MAX_RECENT_BATCHES][0]))

    def merge(self, before: date | None = None) -> int:
        """Move the band rows of batches before ``before`` (all, by default) from
        ``bands_new`` into ``bands``; the rows moved.

        Why two tables: a batch adds 32 band rows per article at random keys, and inserting
        them into one archive-wide B-tree touched a page per row once the tree outgrew the
        batch (publish 0.95 -> 2.65 s after a year). ``bands_new`` holds the recent batches'
        rows, a tree the size of a month, so a publish costs the same after a year as after a
        month; the compaction of a closed month moves them over in one sorted pass (a page
        touched once for many rows), off the nightly publish. Lookups read both."""
        with self._connect() as con:
            return self._merge(con, before)

    @staticmethod
    def _merge(con: sqlite3.Connection, before: date | None) -> int:
        cutoff = (before or date.max).isoformat()
        with _transaction(con):
            moved = con.execute(
                "INSERT OR IGNORE INTO bands SELECT n.code, n.bid, n.seq FROM bands_new n "
                "JOIN batches b USING (bid) WHERE b.batch_date < ? AND b.recent = 1 "
                "ORDER BY 1, 2, 3",
                (cutoff,)).rowcount
            con.execute("DELETE FROM bands_new WHERE bid IN "
                        "(SELECT bid FROM batches WHERE batch_date < ? AND recent = 1)",
                        (cutoff,))
            con.execute("UPDATE batches SET recent = 0 WHERE batch_date < ?", (cutoff,))
        if moved:
            LOGGER.info("archive index: %d band rows of batches before %s merged", moved,
                        cutoff)
        return int(moved)

    def forget(self, batch_date: date) -> None:
        with self._connect() as con, _transaction(con):
            self._drop(con, batch_date.isoformat())

    def _replace(self, con: sqlite3.Connection, batch_date: date, run_id: str,
                 rows: _VersionRows) -> None:
        day = batch_date.isoformat()
        self._drop(con, day)
        bid = con.execute("INSERT INTO batches (batch_date, run_id) VALUES (?, ?)",
                          (day, run_id)).lastrowid
        con.executemany("INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?)",
                        ((sha, bid, seq, name) for seq, (name, sha) in enumerate(rows.files)))
        con.executemany("INSERT OR IGNORE INTO contents VALUES (?, ?, ?, ?, ?)",
                        ((h, model, bid, seq, aid) for seq, (aid, h, model)
                         in enumerate(rows.contents) if h and model))
        con.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?)",
                        ((bid, seq, aid, cluster, sig.tobytes()) for seq, (aid, cluster, sig)
                         in enumerate(zip(rows.member_ids, rows.member_clusters,
                                          rows.signatures, strict=True))))
        codes = band_codes(rows.signatures)  # (articles, bands): row number = seq
        seqs = np.repeat(np.arange(len(codes), dtype=np.int64), codes.shape[1])
        order = np.lexsort((seqs, codes.ravel()))  # in key order: neighbouring B-tree pages
        pairs = np.stack([codes.ravel()[order], seqs[order]], axis=1).tolist()
        con.execute("INSERT OR IGNORE INTO bands_new SELECT value ->> 0, ?, value ->> 1 "
                    "FROM json_each(?)", (bid, json.dumps(pairs)))

    @staticmethod
    def _drop(con: sqlite3.Connection, day: str) -> None:
        old = con.execute("SELECT bid FROM batches WHERE batch_date = ?", (day,)).fetchone()
        if old is None:
            return
        for statement in _DELETE_BATCH:
            con.execute(statement, old)

    def sync(self) -> int:
        """Index every current version the index lacks and forget batches no longer published;
        the number of batches (re)indexed. Costs a ``readlink`` per published batch when the
        index is up to date."""
        with self._connect() as con:
            return self._sync(con)

    def _sync(self, con: sqlite3.Connection) -> int:
        current = {d: v for d in self.wh.published_batches()
                   if (v := self.wh.current_version(d)) is not None}
        indexed = dict(con.execute("SELECT batch_date, run_id FROM batches").fetchall())
        stale = [d for d, v in current.items() if indexed.get(d.isoformat()) != v.name]
        gone = [d for d in indexed if date.fromisoformat(d) not in current]
        for day in gone:
            with _transaction(con):
                self._drop(con, day)
        for batch_date in stale:
            version = current[batch_date]
            try:
                rows = _VersionRows.read(version)
            except (OSError, pa.ArrowException) as exc:  # replaced while we read it
                LOGGER.info("archive index: skipped %s (%s)", version, exc)
                continue
            with _transaction(con):
                still = self.wh.current_version(batch_date)
                if still is not None and still.name == version.name:
                    self._replace(con, batch_date, version.name, rows)
        if stale:
            LOGGER.info("archive index: %d batches indexed from their published versions",
                        len(stale))
        return len(stale)

    # -- lookups -----------------------------------------------------------------------------

    def known_files(self, digests: Iterable[str], exclude: date
                    ) -> dict[str, tuple[date, str, str]]:
        """sha256 -> (batch date, run id, file name) of the latest other batch that read a
        file with these bytes (of several such files in that batch, the last in name order)."""
        out: dict[str, tuple[date, str, str]] = {}
        with self._connect() as con:
            self._sync(con)
            _wanted(con, digests)
            for sha, day, run_id, name in con.execute(KNOWN_FILES_SQL, (exclude.isoformat(),)):
                out[sha] = (date.fromisoformat(day), run_id, name)
        return out

    def enriched_articles(self, label: str, hashes: Iterable[str]
                          ) -> dict[str, tuple[date, str, str]]:
        """content hash -> (batch date, run id, article id) of the first published article
        (earliest batch, then article order) with that content that ``label`` enriched."""
        out: dict[str, tuple[date, str, str]] = {}
        with self._connect() as con:
            self._sync(con)
            _wanted(con, hashes)
            for content_hash, day, run_id, article_id in con.execute(ENRICHED_SQL, (label,)):
                out.setdefault(content_hash, (date.fromisoformat(day), run_id, article_id))
        return out

    def near_duplicate_candidates(self, sigs: np.ndarray, exclude: date) -> Candidates:
        """Articles of other batches with a band key equal to one of ``sigs``' (same band) that
        the clustering can use: a popular band key collects members day after day, and the
        clustering keeps only the first few of each bucket (``neardup.kept_earlier``), so only
        those are read (signatures included). The hits themselves are narrow index rows."""
        with self._connect() as con:
            self._sync(con)
            _wanted(con, band_codes(sigs).ravel().tolist())
            hits = con.execute(CANDIDATES_SQL, {"exclude": exclude.isoformat()}).fetchall()
            # archive order: batch date, then the article's place in its batch
            articles = sorted({(day, bid, seq) for _, day, bid, seq, _ in hits})
            number = {(bid, seq): i for i, (_, bid, seq) in enumerate(articles)}
            cluster_no: dict[str, int] = {}
            kept = neardup.kept_earlier(
                np.array([h[0] for h in hits], dtype=np.int64),
                np.array([number[h[2], h[3]] for h in hits], dtype=np.int64),
                np.array([cluster_no.setdefault(h[4], len(cluster_no)) for h in hits],
                         dtype=np.int64))
            wanted = [[articles[i][1], articles[i][2]] for i in kept.tolist()]
            rows = con.execute(MEMBERS_SQL, (json.dumps(wanted),)).fetchall()
        blobs = [blob for *_, blob in rows]
        sigs_out = (np.frombuffer(b"".join(blobs), dtype=np.uint32).reshape(
            len(blobs), neardup.NUM_PERM) if blobs else np.empty((0, neardup.NUM_PERM),
                                                                 np.uint32))
        return Candidates([r[0] for r in rows], [r[1] for r in rows], sigs_out)


def _wanted(con: sqlite3.Connection, keys: Iterable[object]) -> None:
    """The lookup's keys as the temporary table ``wanted(k)``, joined to the index's keys.

    The queries name it first in a ``CROSS JOIN``, which SQLite takes as the join order: left
    to itself the planner, knowing nothing of a fresh temporary table, scanned the whole
    ``files`` or ``contents`` table and probed ``wanted`` (a cost that grew with the archive;
    ``tests/test_archive_index.py`` checks the plans)."""
    con.execute("DROP TABLE IF EXISTS temp.wanted")
    con.execute("CREATE TEMP TABLE wanted (k PRIMARY KEY) WITHOUT ROWID")
    # one JSON array, not one bound statement per key (32,000 band codes: 0.25 -> 0.02 s)
    con.execute("INSERT OR IGNORE INTO wanted SELECT value FROM json_each(?) ORDER BY 1",
                (json.dumps(sorted(set(keys))),))


@dataclass(frozen=True)
class _VersionRows:
    """What the index keeps of one published version, in the order its files are read."""

    files: list[tuple[str, str]]  # (source_file, sha256) of the files read
    contents: list[tuple[str, str | None, str | None]]  # (article_id, content_hash, ner_model)
    member_ids: list[str]
    member_clusters: list[str]
    signatures: np.ndarray

    @classmethod
    def read(cls, version: Path) -> _VersionRows:
        files: list[tuple[str, str]] = []
        for part in sorted((version / "manifest").glob("*.parquet")):
            table = pq.read_table(part, columns=["source_file", "sha256", "status"])
            for name, sha, status in zip(*(table.column(c).to_pylist()
                                           for c in ("source_file", "sha256", "status")),
                                         strict=True):
                if status != "removed" and sha:
                    files.append((str(name), str(sha)))
        contents: list[tuple[str, str | None, str | None]] = []
        ids: list[str] = []
        clusters: list[str] = []
        sigs: list[np.ndarray] = []
        for part in sorted((version / "articles").glob("*.parquet")):
            names = pq.ParquetFile(part).schema_arrow.names
            columns = ["article_id", "content_hash",
                       *(c for c in ("ner_model", "duplicate_cluster_id", "minhash")
                         if c in names)]
            table = pq.read_table(part, columns=columns)
            article_ids = [str(a) for a in table.column("article_id").to_pylist()]
            models = (table.column("ner_model").to_pylist() if "ner_model" in names
                      else [None] * table.num_rows)
            contents.extend(zip(article_ids, table.column("content_hash").to_pylist(), models,
                                strict=True))
            if "minhash" in names:  # versions from before near-duplicate clustering have none
                ids.extend(article_ids)
                clusters.extend(str(c or a) for a, c in zip(
                    article_ids, table.column("duplicate_cluster_id").to_pylist(), strict=True))
                flat = pc.list_flatten(table.column("minhash")).to_numpy()
                sigs.append(np.asarray(flat, dtype=np.uint32).reshape(table.num_rows,
                                                                       neardup.NUM_PERM))
        signatures = (np.concatenate(sigs) if sigs
                      else np.empty((0, neardup.NUM_PERM), np.uint32))
        return cls(files, contents, ids, clusters, signatures)


def _journal(con: sqlite3.Connection, mode: str) -> None:
    """Switch the journal mode once per file. The switch needs the file to itself and SQLite
    does not wait for that (busy_timeout does not apply): processes opening a new index at the
    same moment (a parallel backfill) retry until the first one has switched it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.01
    while con.execute("PRAGMA journal_mode").fetchone()[0] != mode:
        try:
            con.execute("PRAGMA journal_mode = WAL" if mode == "wal"
                        else "PRAGMA journal_mode = DELETE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[None]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def index_size(wh: storage.Warehouse) -> int:
    """Bytes of the index (and its WAL), for the benchmark."""
    base = wh.root / INDEX_DIR
    return sum(p.stat().st_size for p in base.glob(f"{INDEX_FILE}*")) if base.is_dir() else 0


