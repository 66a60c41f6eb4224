"""Warehouse paths, Parquet I/O, locks and the batch pointers (the swap: ``layout.swap_in``).

Layout under the warehouse root::

    _staging/<run_id>/...                          work in progress of a run (never read by views)
    _store/batch_date=D/<run_id>/<table>/part-N.parquet   immutable published versions
    _current/batch_date=D -> ../_store/batch_date=D/<run_id>   one pointer per batch
    <table>/batch_date=D  -> ../_current/batch_date=D/<table>  what readers glob (open days)
    <table>/batch_month=M -> a compacted month's files            (closed months)
    news.duckdb                                    catalog of views

(``<table>`` is a link into the live generation of links, see ``pipeline.warehouse.layout``;
``pipeline.warehouse.compaction`` folds closed months.)

Publishing a batch writes a complete new version under ``_store`` and then replaces the
``_current`` symlink with ``rename(2)``, which is atomic: every table of the batch flips from the
old version to the new one at once, a re-run replaces rather than duplicates, and a crash at any
point leaves the previous version in place. Old versions are removed after the flip (open readers
keep their file handles). All links are relative, so the warehouse folder can be moved.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.warehouse.schemas import TABLES, file_schema

LOGGER = logging.getLogger(__name__)

STAGING = "_staging"
STORE = "_store"
CURRENT = "_current"
LOCKS = "_locks"
CATALOG = "news.duckdb"
COMPRESSION: Final = "zstd"


def partition_name(batch_date: date) -> str:
    return f"batch_date={batch_date.isoformat()}"


@dataclass(frozen=True)
class Warehouse:
    """Paths of one warehouse root; no I/O happens on construction."""

    root: Path

    def staging(self, run_id: str) -> Path:
        return self.root / STAGING / run_id

    def store(self, batch_date: date, run_id: str) -> Path:
        return self.root / STORE / partition_name(batch_date) / run_id

    def pointer(self, batch_date: date) -> Path:
        return self.root / CURRENT / partition_name(batch_date)

    def table_link(self, table: str, batch_date: date) -> Path:
        return self.root / table / partition_name(batch_date)

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG

    def current_version(self, batch_date: date) -> Path | None:
        """Store folder of the published version of a batch, or None if never published."""
        link = self.pointer(batch_date)
        if not link.is_symlink():
            return None
        return (link.parent / os.readlink(link)).resolve()

    def published_batches(self) -> list[date]:
        base = self.root / CURRENT
        if not base.is_dir():
            return []
        return sorted(date.fromisoformat(p.name.split("=", 1)[1]) for p in base.iterdir()
                      if p.is_symlink() and p.name.startswith("batch_date="))


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path``, renamed onto it when the block ends without error: a
    crash never leaves half a file under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{temp_suffix()}")
    yield tmp
    os.replace(tmp, path)


def write_table(path: Path, table: pa.Table, row_group_rows: int) -> Path:
    """Write one Parquet file via a temporary name."""
    with _replacing(path) as tmp:
        pq.write_table(table, tmp, row_group_size=row_group_rows, compression=COMPRESSION)
    return path


SCAN_BATCH_ROWS: Final = 4_096
"""Rows per batch when a table is scanned to be copied or filtered: a few MB of articles."""


def write_stream(path: Path, table: str, parts: Iterable[pa.Table], row_group_rows: int) -> Path:
    """Write ``parts`` (in the table's file schema) as one Parquet file, part by part, via a
    temporary name: memory for one part, never half a file."""
    with _replacing(path) as tmp, \
            pq.ParquetWriter(tmp, file_schema(table), compression=COMPRESSION) as writer:
        for part in parts:
            writer.write_table(part, row_group_size=row_group_rows)
    return path


def rows_to_table(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows (dicts) to an Arrow table of the table's file schema; fails on schema drift."""
    return pa.Table.from_pylist(list(rows), schema=file_schema(table))


def conform(data: pa.Table, table: str) -> pa.Table:
    """``data`` in the table's file schema: columns in order, types cast, missing ones null
    (rows written by an older version of the schema)."""
    schema = file_schema(table)
    columns = [data.column(f.name).cast(f.type) if f.name in data.column_names
               else pa.nulls(data.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def read_table(path: Path, table: str) -> pa.Table:
    return pq.read_table(path, schema=file_schema(table))


def published_name(folder: Path, index: int) -> str:
    """``part-<version>-NNNNN.parquet``: a published path never names two contents.

    Readers reach files through the ``_current`` symlink, so without the version in the name the
    same path would show another file after a publish, and DuckDB's path-keyed file cache would
    mix the old file's footer with the new file's bytes.
    """
    return f"part-{folder.parent.name}-{index:05d}.parquet"


class RowGroupWriter:
    """Stream record batches into files of ``max_file_rows`` rows and ``row_group_rows`` groups.

    Small inputs (one part per shard) are buffered until a full row group is available, so the
    published files have row groups of the intended size whatever the shard size was.
    """

    def __init__(self, folder: Path, table: str, row_group_rows: int, max_file_rows: int,
                 schema: pa.Schema | None = None) -> None:
        self.folder = folder
        self.schema = schema or file_schema(table)
        self.row_group_rows = row_group_rows
        self.max_file_rows = max_file_rows
        self.files: list[Path] = []
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        for rb in (batch.to_batches() if isinstance(batch, pa.Table) else [batch]):
            if rb.num_rows:
                self._pending.append(rb)
                self._pending_rows += rb.num_rows
        while self._pending_rows >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def _flush(self, n: int) -> None:
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        head, rest = table.slice(0, n), table.slice(n)
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        if self._writer is None or self._file_rows + head.num_rows > self.max_file_rows:
            self._open()
        assert self._writer is not None
        self._writer.write_table(head, row_group_size=self.row_group_rows)
        self._file_rows += head.num_rows
        self.rows += head.num_rows

    def _open(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self.folder / published_name(self.folder, len(self.files))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, self.schema, compression=COMPRESSION)
        self.files.append(path)
        self._file_rows = 0

    def close(self) -> list[Path]:
        if self._pending_rows:
            self._flush(self._pending_rows)
        if self._writer is None:  # no rows at all: still one empty file, so views can bind
            self._open()
        assert self._writer is not None
        self._writer.close()
        return self.files


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{temp_suffix()}")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically (create a new link, then rename over the old)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.tmp-{temp_suffix()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


NETWORK_FILE_SYSTEMS: Final = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "fuse.sshfs", "glusterfs",
    "fuse.glusterfs", "ceph", "fuse.ceph", "lustre", "gpfs", "beegfs", "fuse.s3fs",
})
"""File systems shared between hosts: their locks and renames are not those of a local disk."""


@dataclass(frozen=True)
class Mount:
    point: str
    kind: str
    options: frozenset[str]

    @property
    def network(self) -> bool:
        return self.kind in NETWORK_FILE_SYSTEMS

    @property
    def host_local_locks(self) -> bool:
        """Locks that other hosts cannot see: NFS mounted ``nolock`` or ``local_lock=...``."""
        return self.network and bool(self.options & {
            "nolock", "local_lock=all", "local_lock=flock", "local_lock=posix"})


def mount_of(path: Path, mounts: str | None = None) -> Mount:
    """The mount holding ``path`` (from /proc/mounts, or ``mounts`` in that format)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8")
        except OSError:
            mounts = ""
    real = os.path.realpath(path)
    best = Mount("", "", frozenset())
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        point = fields[1].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best.point):
            best = Mount(point, fields[2], frozenset(fields[3].split(",")))
    return best


class SharedStorageError(RuntimeError):
    """The warehouse is on shared storage whose locks do not work between hosts."""


def check_shared_storage(root: Path, mounts: str | None = None) -> Mount:
    """Refuse a warehouse on a network file system whose locks stay on this host.

    A warehouse on NFS is there to be shared by several hosts; with ``nolock`` or
    ``local_lock=...`` two hosts could publish the same batch or write the archive index at the
    same time, each holding a lock the other cannot see. That must fail, not corrupt."""
    mount = mount_of(root, mounts)
    if mount.host_local_locks:
        raise SharedStorageError(
            f"warehouse {root} is on {mount.kind} ({mount.point}) mounted with "
            f"{', '.join(sorted(o for o in mount.options if 'lock' in o))}: its locks are "
            "local to this host, so runs on other hosts would not see them; mount it with "
            "locking (NFSv4, or NFSv3 with lockd) or keep the warehouse on one host")
    return mount


def temp_suffix() -> str:
    """``<host>-<pid>``: temporary names beside shared files must not collide between hosts
    (process ids do)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class BatchLockedError(RuntimeError):
    """Another process is publishing the same batch."""


@contextlib.contextmanager
def batch_lock(wh: Warehouse, batch_date: date) -> Iterator[None]:
    """Exclusive, non-blocking lock on one batch: a second publisher fails with a clear message.
    ``flock`` works between hosts on NFS (the client maps it to the server's byte-range locks)
    unless the mount keeps locks local: then this refuses to run (``check_shared_storage``)."""
    check_shared_storage(wh.root)
    path = wh.root / LOCKS / f"{partition_name(batch_date)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                raise BatchLockedError(
                    f"batch {batch_date} is being published by another run ({holder}); "
                    "wait for it to finish or stop it") from exc
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def fsync_dir(path: Path | str) -> None:
    """Flush a folder's entries (links made or renamed in it) to disk."""
    _fsync(path, directory=True)


def _fsync(path: Path | str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(root: Path) -> int:
    """``fsync`` every file and folder under ``root`` (folders after their entries, ``root``
    last, then its parent, which holds ``root``'s own entry); the number of files synced."""
    files = 0
    for folder, _, names in os.walk(root, topdown=False):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                _fsync(path)
                files += 1
        _fsync(folder, directory=True)
    _fsync(root.parent, directory=True)
    return files


def compact(parts: Sequence[Path], out_dir: Path, table: str, row_group_rows: int,
            max_file_rows: int,
            keep: Callable[[int, pa.RecordBatch], pa.RecordBatch] | None = None,
            ) -> tuple[int, list[Path]]:
    """Copy staged part files into ``out_dir`` as well-sized files; ``keep`` may filter rows."""
    writer = RowGroupWriter(out_dir, table, row_group_rows, max_file_rows)
    for index, part in enumerate(parts):
        pf = pq.ParquetFile(part)
        for rb in pf.iter_batches(batch_size=row_group_rows):
            rb = rb.cast(file_schema(table)) if rb.schema != file_schema(table) else rb
            writer.write(keep(index, rb) if keep else rb)
    files = writer.close()
    return writer.rows, files


def table_names() -> list[str]:
    return list(TABLES)
