"""The benchmark corpus (bench/corpus.py): reference-format dumps that the project's reader
parses as written, with the counts its CorpusInfo reports, unique, and the same for a seed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import PARAGRAPHS, build_corpus
from pipeline.ingest.readers import list_input_files, read_records
from pipeline.ingest.records import Reject
from pipeline.settings import Settings
from pipeline.transform.article import build_article
from pipeline.transform.textdump import parse_text_dump

N = 50
NAME = re.compile(r"^\d{6}_[0-9a-f]{16}\.txt$")


def parsed(root: Path) -> tuple[list[dict[str, Any]], list[Reject], int]:
    """Article rows and rejects of every file under ``root``, and the word tokens of their
    teasers and bodies, as the pipeline reads them."""
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    words = 0
    for item in list_input_files(root):
        for rec in read_records(item, Settings()):
            if isinstance(rec, Reject):
                rejects.append(rec)
                continue
            row = build_article(rec, "bench-test", date(2023, 3, 1))
            if isinstance(row, Reject):
                rejects.append(row)
                continue
            rows.append(row)
            words += len(re.findall(r"\w+", f"{row['teaser'] or ''}\n{row['body']}"))
    return rows, rejects, words


def test_corpus_parses_as_reference_dumps(shared: Path, tmp_path: Path) -> None:
    info = build_corpus(N, tmp_path / "corpus", seed=3, data=shared)
    files = sorted((tmp_path / "corpus").rglob("*"))
    txt = [p for p in files if p.is_file()]
    assert len(txt) == N and all(NAME.match(p.name) for p in txt)
    assert sorted({p.parent.name for p in txt}) == list(info.days)
    assert info.days[0] == "2023-03-01" and len(info.days) >= 2
    first = txt[0].read_text(encoding="utf-8")
    assert re.match(r"^ date \d{4}-\d{2} \S", first) and "\n\n" in first

    rows, rejects, words = parsed(tmp_path / "corpus")
    assert rejects == []
    assert len(rows) == info.n == N
    assert words == info.words
    assert sum(info.words_by_language.values()) == info.words
    assert Counter(r["language"] for r in rows) == Counter(info.articles_by_language)
    assert {r["layout"] for r in rows} == {"dated"}
    assert {r["published_precision"] for r in rows} == {"month"}
    assert all(r["teaser"] for r in rows)
    assert len({r["content_hash"] for r in rows}) == N
    assert len({r["article_id"] for r in rows}) == N
    for path in txt:
        dump = parse_text_dump(path.read_text(encoding="utf-8"))
        paragraphs = len(dump.paragraphs) - len(dump.subheadings)
        assert PARAGRAPHS[0] <= paragraphs <= PARAGRAPHS[1]
    per_article = info.words / N
    assert 200 <= per_article <= 500
    assert 0 < info.articles_by_language["en"] < info.articles_by_language["de"]


def test_corpus_is_deterministic_for_a_seed(shared: Path, tmp_path: Path) -> None:
    def contents(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for p in sorted(root.rglob("*.txt"))}

    one = build_corpus(20, tmp_path / "one", seed=5, data=shared)
    two = build_corpus(20, tmp_path / "two", seed=5, data=shared)
    other = build_corpus(20, tmp_path / "other", seed=6, data=shared)
    assert contents(tmp_path / "one") == contents(tmp_path / "two")
    assert one.words == two.words and one.articles_by_language == two.articles_by_language
    assert set(contents(tmp_path / "other").values()).isdisjoint(
        contents(tmp_path / "one").values())
    assert other.days == one.days


def test_existing_folder_is_not_overwritten(shared: Path, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError):
        build_corpus(5, tmp_path / "busy", data=shared)
