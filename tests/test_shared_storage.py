"""A warehouse shared by several hosts (NFS): what the code assumes, and how it fails loudly."""

from __future__ import annotations

import socket
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from pipeline.batch.archive_index import ArchiveIndex
from pipeline.warehouse import storage

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
srv:/export /mnt/news nfs4 rw,relatime,vers=4.2,hard,proto=tcp 0 0
srv:/old /mnt/news/old nfs rw,vers=3,nolock 0 0
srv:/flock /mnt/flock nfs rw,vers=4.1,local_lock=flock 0 0
srv:/my\\040share /mnt/my\\040share cifs rw 0 0
"""


@pytest.mark.parametrize(("path", "kind", "network", "local_locks"), [
    ("/srv/news-etl", "ext4", False, False),
    ("/mnt/news/warehouse", "nfs4", True, False),
    ("/mnt/news/old/warehouse", "nfs", True, True),  # the longest mount point wins
    ("/mnt/newsroom", "ext4", False, False),  # a prefix of the name is not a parent folder
    ("/mnt/flock/wh", "nfs", True, True),
    ("/mnt/my share/wh", "cifs", True, False),
])
def test_mount_of_a_path(path: str, kind: str, network: bool, local_locks: bool) -> None:
    mount = storage.mount_of(Path(path), MOUNTS)
    assert (mount.kind, mount.network, mount.host_local_locks) == (kind, network, local_locks)


def test_host_local_locks_on_shared_storage_are_refused() -> None:
    storage.check_shared_storage(Path("/mnt/news/warehouse"), MOUNTS)  # NFSv4 locks: fine
    with pytest.raises(storage.SharedStorageError, match=r"nolock.*local to this host"):
        storage.check_shared_storage(Path("/mnt/news/old/warehouse"), MOUNTS)


def _pretend(monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    real = storage.mount_of
    monkeypatch.setattr(storage, "mount_of", lambda path, mounts=None: real(
        Path("/mnt/x/wh"), f"srv:/x /mnt/x {line} 0 0\n"))


def test_publishing_on_nfs_without_shared_locks_fails_loudly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = storage.Warehouse(tmp_path / "wh")
    _pretend(monkeypatch, "nfs rw,vers=3,nolock")
    with pytest.raises(storage.SharedStorageError), storage.batch_lock(wh, date(2024, 1, 1)):
        pass
    with pytest.raises(storage.SharedStorageError):
        ArchiveIndex(wh).sync()


def test_archive_index_journal_follows_the_file_system(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WAL needs memory shared by every process using the file: one host only. On a network
    file system the index uses a rollback journal, which only needs the server's locks."""
    local = storage.Warehouse(tmp_path / "local")
    ArchiveIndex(local).sync()
    con = sqlite3.connect(ArchiveIndex(local).path)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()
    shared = storage.Warehouse(tmp_path / "shared")
    _pretend(monkeypatch, "nfs4 rw,vers=4.2")
    ArchiveIndex(shared).sync()
    con = sqlite3.connect(ArchiveIndex(shared).path)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    con.close()


def test_temporary_names_carry_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hosts can run processes with the same id: a temporary file beside a shared one is
    named after host and process, so their writes never meet."""
    seen: list[str] = []
    real = storage.os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        seen.append(Path(src).name)
        real(src, dst)

    monkeypatch.setattr(storage.os, "replace", spy)
    storage.write_json(tmp_path / "plan.json", {"a": 1})
    assert seen == [f".plan.json.tmp-{socket.gethostname()}-{storage.os.getpid()}"]
