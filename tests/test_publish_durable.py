"""Publishing is durable: a version's files and folders reach the disk before its pointer
flips, and the folders holding the flipped links are flushed after it."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.warehouse import storage
from tests.conftest import SAMPLES

DAY = date(2023, 2, 1)


def _publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             fsync: bool) -> tuple[list[tuple[str, str]], Path]:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = storage._fsync, storage.replace_symlink

    def spy_fsync(path: Path | str, directory: bool = False) -> None:
        events.append(("sync", os.path.realpath(path)))
        real_fsync(path, directory)

    def spy_replace(link: Path, target: str) -> None:
        real_replace(link, target)
        events.append(("flip", str(link)))

    monkeypatch.setattr(storage, "_fsync", spy_fsync)
    monkeypatch.setattr(storage, "replace_symlink", spy_replace)
    s = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {"de": "none"},
                               "fsync": fsync})
    result = stages.run_batch(readers.landing_files(SAMPLES, DAY, date(2023, 2, 2)), DAY, s)
    return events, result.version


def test_every_published_file_is_synced_before_the_flip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events, version = _publish(tmp_path, monkeypatch, fsync=True)
    pointer = storage.Warehouse(tmp_path / "wh").pointer(DAY)
    flip = events.index(("flip", str(pointer)))
    before = {path for kind, path in events[:flip] if kind == "sync"}
    published = {os.path.realpath(os.path.join(folder, name))
                 for folder, _, names in os.walk(version) for name in names}
    folders = {os.path.realpath(folder) for folder, _, _ in os.walk(version)}
    assert published and published <= before
    assert folders | {os.path.realpath(version.parent)} <= before
    after = {path for kind, path in events[flip:] if kind == "sync"}
    assert os.path.realpath(pointer.parent) in after
    assert os.path.realpath(storage.Warehouse(tmp_path / "wh").table_link("articles", DAY)
                            .parent) in after


def test_fsync_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = _publish(tmp_path, monkeypatch, fsync=False)
    assert [e for e in events if e[0] == "sync"] == []
