"""Landing folders with links, pipes and sockets: only regular files inside the landing folder
are read; everything else is listed as refused, so it becomes a reject instead of vanishing (or
of publishing ``/etc/passwd`` as an article, or of blocking on a named pipe)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from pipeline.ingest.readers import InputFile, landing_files, list_input_files, read_records
from pipeline.ingest.records import RawRecord, Reject
from pipeline.settings import Settings

ARTICLE = "Titel\n\nEin Artikel mit genug Text, um geladen zu werden.\n"
SECRET = "root:x:0:0:root:/root:/bin/bash\n"


@pytest.fixture
def landing(tmp_path: Path) -> Iterator[Path]:
    """``<tmp>/landing/2023-01-31`` with one entry of each kind; ``<tmp>/outside`` next to it."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "passwd").write_text(SECRET, encoding="utf-8")
    (outside / "folder" / "x.txt").write_text(ARTICLE, encoding="utf-8")
    day = tmp_path / "landing" / "2023-01-31"
    (day / "sub").mkdir(parents=True)
    (day / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (day / "sub" / "b.txt").write_text(ARTICLE, encoding="utf-8")
    (day / "link_in.txt").symlink_to(day / "sub" / "b.txt")
    (day / "rel_in.txt").symlink_to(Path("sub") / "b.txt")
    (day / "passwd.txt").symlink_to(outside / "passwd")
    (day / "rel_out.txt").symlink_to(Path("..") / ".." / "outside" / "passwd")
    (day / "chain.txt").symlink_to(day / "passwd.txt")  # inside link to a link going out
    (day / "dangling.txt").symlink_to(day / "missing.txt")
    (day / "loop_a").symlink_to(day / "loop_b")
    (day / "loop_b").symlink_to(day / "loop_a")
    (day / "linked").symlink_to(outside / "folder")
    (day / "linked_in").symlink_to(day / "sub")
    (day / ".hidden_link").symlink_to(outside / "passwd")  # ignored by name, as before
    os.mkfifo(day / "pipe.txt")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(OSError):  # a path longer than sun_path allows: the rest counts
        server.bind(str(day / "sock"))
    yield day
    server.close()


REFUSED = {
    "chain.txt": "outside_landing",
    "dangling.txt": "dangling_link",
    "linked": "linked_folder",
    "linked_in": "linked_folder",
    "loop_a": "symlink_loop",
    "loop_b": "symlink_loop",
    "passwd.txt": "outside_landing",
    "pipe.txt": "not_a_file",
    "rel_out.txt": "outside_landing",
    "sock": "not_a_file",
}
READ = ["a.txt", "link_in.txt", "rel_in.txt", "sub/b.txt"]


def test_listing_reads_files_inside_and_refuses_the_rest(
        landing: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="pipeline.ingest.readers"):
        listed = list_input_files(landing)
    refused = dict(REFUSED)
    if not (landing / "sock").exists():
        del refused["sock"]
    assert [f.relative for f in listed] == sorted([*READ, *refused],
                                                  key=lambda r: r.split("/"))
    assert {f.relative: f.refused[0] for f in listed if f.refused} == refused
    assert [f.relative for f in listed if f.refused is None] == READ
    reasons = {f.relative: f.refused[1] for f in listed if f.refused}
    assert os.path.realpath(landing.parent.parent / "outside" / "passwd") in reasons["passwd.txt"]
    assert "FIFO" in reasons["pipe.txt"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "ignoring .hidden_link" in logged
    assert all(rel in logged for rel in refused)  # each refusal is logged when listed


def test_refused_entries_are_rejects_and_are_never_opened(
        landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = list_input_files(landing)
    opened: list[str] = []
    real_open = os.open

    def spy(path: str, flags: int, *args: int, **kwargs: object) -> int:
        opened.append(os.fspath(path))
        if any(os.fspath(path) == f.location for f in listed if f.refused):
            raise AssertionError(f"opened a refused entry: {path}")  # a FIFO would block here
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    settings = Settings()
    for item in listed:
        got = list(read_records(item, settings))
        if item.refused is None:
            assert [type(r) for r in got] == [RawRecord], item
            continue
        assert len(got) == 1 and isinstance(got[0], Reject), item
        reject = got[0]
        assert (reject.source_file, reject.locator, reject.reason_code, reject.member) == (
            item.relative, "file", item.refused[0], None)
        assert reject.reason == item.refused[1]
    assert SECRET not in "".join(r.text for item in listed for r in read_records(item, settings)
                                 if isinstance(r, RawRecord))
    assert len(opened) == len(READ) * 2


def test_landing_files_keep_the_refusal_and_the_day(landing: Path) -> None:
    files = landing_files(landing.parent, date(2023, 1, 31), date(2023, 2, 1))
    by_name = {f.relative: f for f in files}
    refused = by_name["2023-01-31/passwd.txt"].refused
    assert refused is not None and refused[0] == "outside_landing"
    assert by_name["2023-01-31/a.txt"].refused is None
    assert len(files) == len(list_input_files(landing))


def test_a_root_that_is_a_pipe_is_refused_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    assert list_input_files(fifo) == [
        InputFile(fifo, "input.fifo", ("not_a_file", "named pipe (FIFO), not a regular file"))]


def test_a_folder_that_cannot_be_listed_is_refused(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.txt").write_text(ARTICLE, encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path: str) -> object:  # chmod 000 would not stop root: fail as it would
        if os.fspath(path) == str(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listed = list_input_files(tmp_path)
    assert [(f.relative, f.refused) for f in listed] == [
        ("b.txt", None), ("locked", ("unreadable", "cannot list the folder: Permission denied"))]


def test_a_run_publishes_no_outside_file_and_rejects_every_refused_entry(
        landing: Path, tmp_path: Path) -> None:
    """The whole path (plan hashes, shard manifests, parse): a pipe does not block planning,
    ``/etc/passwd`` behind a link is not an article, and every refusal is a reject."""
    import duckdb

    from pipeline import stages

    day = date(2023, 1, 31)
    s = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {"de": "none"},
                               "quality_gate": False})
    files = landing_files(landing.parent, day, date(2023, 2, 1))
    result = stages.run_batch(files, day, s)
    con = duckdb.connect(str(result.catalog), read_only=True)
    assert con.execute("SELECT count(*) FROM articles WHERE body LIKE '%root:x:0:0%'"
                       ).fetchone() == (0,)
    rejects = dict(con.execute("SELECT source_file, reason_code FROM rejects").fetchall())
    for name, code in REFUSED.items():
        assert rejects[f"2023-01-31/{name}"] == code
    read, loaded, rejected = con.execute("SELECT records_read, articles_loaded, "
                                         "records_rejected FROM runs").fetchone() or ()
    assert read == loaded + rejected == len(files)
    con.close()
