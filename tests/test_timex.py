"""Relative time expressions: resolved against the publication date when its precision allows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.transform import timex

THURSDAY = date(2023, 2, 2)


@pytest.mark.parametrize(("text", "value", "precision"), [
    ("Gestern hat der Rat getagt.", "2023-02-01", "day"),
    ("Das war vorgestern.", "2023-01-31", "day"),
    ("Am Dienstag hatte der Rat getagt.", "2023-01-31", "day"),
    ("Am Donnerstag tagt er wieder.", "2023-02-02", "day"),
    ("Am kommenden Montag geht es weiter.", "2023-02-06", "day"),
    ("Vergangene Woche war es ruhig.", "2023-W04", "week"),
    ("Letzten Monat stieg der Preis.", "2023-01", "month"),
    ("Vergangenes Jahr sank er.", "2022", "year"),
    ("Nächstes Jahr wird gewählt.", "2024", "year"),
    ("Vor drei Tagen begann der Streik.", "2023-01-30", "day"),
    ("The vote was held on Monday.", "2023-01-30", "day"),
    ("It happened two days ago.", "2023-01-31", "day"),
    ("Next week the talks resume.", "2023-W06", "week"),
    ("Last year was worse.", "2022", "year"),
])
def test_expressions_resolve_against_a_day(text: str, value: str, precision: str) -> None:
    (mention,) = timex.find(text, THURSDAY, "day")
    assert (mention.value, mention.precision) == (value, precision)
    assert text[mention.start_char:mention.end_char] == mention.text


def test_month_precision_leaves_weekdays_unresolved() -> None:
    found = list(timex.find("Am Dienstag, so hieß es letzten Monat, ...", date(2023, 2, 1),
                            "month"))
    assert [(m.text, m.value) for m in found] == [("Am Dienstag", None),
                                                  ("letzten Monat", "2023-01")]
    assert found[0].note and "needs a publication day" in found[0].note


def test_morning_is_not_tomorrow() -> None:
    assert list(timex.find("Am Morgen regnete es, jeden Morgen.", THURSDAY, "day")) == []


def test_time_mentions_table(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.txt").write_text(" date 2023-02-02 Teaser.\n\nAm Dienstag hatte der Rat "
                                 "getagt, gestern folgte der Beschluss.\n", encoding="utf-8")
    (inbox / "b.txt").write_text(" date 2023-02 Teaser.\n\nAm Dienstag tagte der Rat.\n",
                                 encoding="utf-8")
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {}})
    result = stages.run_batch(readers.list_input_files(inbox), date(2023, 2, 2), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    rows = con.execute(
        "SELECT a.source_file, t.text, t.value, t.note IS NULL, "
        "substr(a.body, t.start_char + 1, t.end_char - t.start_char) = t.text "
        "FROM time_mentions t JOIN articles a USING (article_id) ORDER BY 1, t.start_char"
    ).fetchall()
    assert rows == [("a.txt", "Am Dienstag", "2023-01-31", True, True),
                    ("a.txt", "gestern", "2023-02-01", True, True),
                    ("b.txt", "Am Dienstag", None, False, True)]


_PIECES = ["gestern", "Heute", "übermorgen", "am", "On", "Dienstag", "dienstags", "Montag-Abend",
           "last", "next", "kommenden", "Woche", "Jahr", "jahres", "vor", "drei", "einem",
           "Tagen", "3", "٣", "two", "a", "days", "ago", "Yesterday", "Friday", "ÜBERMORGEN",
           "Sonnabend", "morgen", "Haus", "-", ",", ".", "(", "„", "ſo", "K", "\n", " ", "  "]


def _without_first_char_check(pattern: str) -> str:
    lookahead = "(?=[" + timex._FIRST + r"\d])"
    assert lookahead in pattern
    return pattern.replace(lookahead, "", 1)


@given(st.lists(st.sampled_from(_PIECES), max_size=40).map(" ".join))
def test_first_character_check_changes_no_match(text: str) -> None:
    """The lookahead on the first character only lets the engine give up sooner: every match,
    case-sensitive on the lower-cased text or case-insensitive on the original, is the same
    as without it."""
    import re

    plain = re.compile(_without_first_char_check(timex.PATTERN.pattern), re.IGNORECASE)
    plain_lower = re.compile(_without_first_char_check(timex._PATTERN_LOWER.pattern))
    spans = [(m.span(), m.groupdict()) for m in timex.PATTERN.finditer(text)]
    assert spans == [(m.span(), m.groupdict()) for m in plain.finditer(text)]
    lower = text.lower()
    assert [m.span() for m in timex._PATTERN_LOWER.finditer(lower)] == \
        [m.span() for m in plain_lower.finditer(lower)]
