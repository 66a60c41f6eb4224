"""Normalisers: header dates never invent precision; ids are stable; counts are sane."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import normalise


@pytest.mark.parametrize(("text", "at", "precision"), [
    ("2023-01", datetime(2023, 1, 1, tzinfo=UTC), "month"),
    ("2023", datetime(2023, 1, 1, tzinfo=UTC), "year"),
    ("2023-01-31", datetime(2023, 1, 31, tzinfo=UTC), "day"),
    ("2016-4-2", datetime(2016, 4, 2, tzinfo=UTC), "day"),
])
def test_header_date(text: str, at: datetime, precision: str) -> None:
    assert normalise.parse_header_date(text) == (at, precision)


@pytest.mark.parametrize("text", ["2023-13", "2023-02-30", "23-01", "January", ""])
def test_bad_header_date_is_unknown(text: str) -> None:
    assert normalise.parse_header_date(text) is None


@given(st.text())
def test_normalise_text_is_idempotent(text: str) -> None:
    once = normalise.normalise_text(text)
    assert normalise.normalise_text(once) == once


def test_word_count_ignores_lone_punctuation() -> None:
    assert normalise.word_count("Er sagte – kurz – „Nein“ . 2023 ist vorbei.") == 7


def test_article_id_prefers_url_then_source_then_content() -> None:
    by_url = normalise.article_id("https://example.org/a", "5fa03b91928cf31a", "h1")
    assert by_url == normalise.article_id("https://example.org/a", None, "h2")
    by_source = normalise.article_id(None, "5FA03B91928CF31A", "h1")
    assert by_source == normalise.article_id(None, "5fa03b91928cf31a", "other content")
    assert normalise.article_id(None, None, "h1") != normalise.article_id(None, None, "h2")
    assert len({by_url, by_source}) == 2


def test_content_hash_ignores_whitespace_only_changes() -> None:
    assert normalise.content_hash("T", None, "a  b\nc") == normalise.content_hash("T", "", "a b c")
    assert normalise.content_hash("T", None, "a b") != normalise.content_hash(None, "T", "a b")


def test_language_detection() -> None:
    assert normalise.detect_language("Der Bundestag hat am Donnerstag das Gesetz beschlossen.")[0] \
        == "de"
    assert normalise.detect_language("The government said on Thursday it would act.")[0] == "en"
    assert normalise.detect_language("ok") == (None, None)
