"""Normalisers: header dates never invent precision; ids are stable; counts are sane."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.transform import normalise


@pytest.mark.parametrize(("text", "expected"), [
    ("https://WWW.Example.org:443/a/b?utm_source=x&id=3#top", "https://example.org/a/b?id=3"),
    ("HTTP://Spiegel.de", "http://spiegel.de/"),
    ("https://taz.de/!5912?fbclid=abc", "https://taz.de/!5912"),
    ("not a url", "not a url"),
])
def test_canonical_url(text: str, expected: str) -> None:
    assert normalise.canonical_url(text) == expected
    assert normalise.canonical_url(expected) == expected


def test_clean_inline_drops_soft_hyphens_keeps_quotes() -> None:
    assert normalise.clean_inline("  Bundes\u00adregierung „streitet“\n über  Etat ") == \
        "Bundesregierung „streitet“ über Etat"


@given(st.text())
def test_normalise_text_is_idempotent(text: str) -> None:
    once = normalise.normalise_text(text)
    assert normalise.normalise_text(once) == once


@given(st.text(st.characters() | st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000")))
def test_normalise_text_collapses_exactly_regex_whitespace(text: str) -> None:
    """Content hashes stored by earlier versions (regex-based) stay valid."""
    expected = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()
    assert normalise.normalise_text(text) == expected


def test_word_count_ignores_lone_punctuation() -> None:
    assert normalise.word_count("Er sagte – kurz – „Nein“ . 2023 ist vorbei.") == 7


@given(st.text() | st.lists(st.sampled_from(["Wort", "–", "„Nein“", "_", "...", "٣", "x2",
                                             " ", "\n", "\u00a0", "\u2003", "é", "-a-"]))
       .map("".join))
def test_word_count_is_the_regex_definition(text: str) -> None:
    """Stored word counts stay comparable: the fast path counts what the regex did."""
    assert normalise.word_count(text) == len(re.findall(r"\S*\w\S*", text))


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


@pytest.mark.parametrize(("text", "language"), [
    ("Die Bundesregierung will die Steuern senken.", "de"),
    ("The government wants to cut taxes next year.", "en"),
])
def test_language_of_a_short_teaser(text: str, language: str) -> None:
    code, confidence = normalise.detect_language(text)
    assert code == language and confidence is not None and confidence > 0.9


def test_language_of_a_teaser_of_names_is_decided_by_more_text(shared: Path) -> None:
    """A line-up of Italian rugby players (a real BBC paragraph) before an English report: its
    first 300 characters are not plainly English to fastText; the first 2,000 are."""
    bbc = shared / "news_en" / "bbc"
    line_up = (bbc / "sport" / "350.txt").read_text(encoding="utf-8").split("\n")[6]
    report = (bbc / "business" / "321.txt").read_text(encoding="utf-8").split("\n", 2)[2]
    text = line_up + "\n\n" + report
    first = normalise.detect_language(text, max_chars=300, unsure_below=0.0)
    assert first[0] != "en" or (first[1] or 0) < 0.5  # unsure or wrong on its own
    code, confidence = normalise.detect_language(text)
    assert code == "en" and confidence is not None and confidence >= 0.5
