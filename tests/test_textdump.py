"""The text-dump layouts: reference (date header), title-first (BBC), plain."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest.encoding import decode
from pipeline.transform.textdump import clean_paragraph, parse_file_name, parse_text_dump


def test_reference_dump_parts(shared: Path) -> None:
    text, encoding = decode((shared / "seed/000_5fa03b91928cf31a.txt").read_bytes())
    parsed = parse_text_dump(text)
    assert encoding == "utf-8"
    assert parsed.layout == "dated"
    assert parsed.date_text == "2023-01"
    assert parsed.teaser is not None
    assert parsed.teaser.startswith("Bei einem Besuch in Südkorea")
    assert parsed.teaser.endswith("„dringender Bedarf an mehr Munition“.")
    assert parsed.subheadings == ("Vorwürfe gegenüber Nordkorea",)
    assert parsed.paragraphs[0].startswith("NATO-Generalsekretär Jens Stoltenberg")
    assert "date 2023-01" not in parsed.body
    assert "Vorwürfe gegenüber Nordkorea" in parsed.paragraphs


def test_bbc_title_first(shared: Path) -> None:
    text, _ = decode((shared / "news_en/bbc/business/001.txt").read_bytes())
    parsed = parse_text_dump(text)
    assert parsed.layout == "titled"
    assert parsed.title == "Ad sales boost Time Warner profit"
    assert parsed.teaser is None
    assert parsed.body.startswith("Quarterly profits at US media giant TimeWarner")


def test_plain_text_keeps_everything_as_body() -> None:
    text = "This is a sentence. And another one.\nStill the same paragraph.\n\nSecond paragraph."
    parsed = parse_text_dump(text)
    assert parsed.layout == "plain"
    assert parsed.title is None and parsed.date_text is None
    assert parsed.paragraphs == ("This is a sentence. And another one. Still the same paragraph.",
                                 "Second paragraph.")


def test_date_header_variants() -> None:
    for header, expected in [(" date 2023 Teaser.", "2023"), ("date 2023-01-05 T.", "2023-01-05"),
                             ("DATE 2023-1 T.", "2023-1")]:
        assert parse_text_dump(header + "\n\nBody text here.").date_text == expected


def test_list_of_short_lines_is_not_subheadings() -> None:
    text = "Fixtures\n\nThe draw was made on Monday evening in London, with these ties.\n\n" \
           "Arsenal v Chelsea\n\nLiverpool v Everton\n\nThe matches are played on 5 March."
    assert parse_text_dump(text).subheadings == ()


def test_file_name() -> None:
    info = parse_file_name("000_5fa03b91928cf31a.txt")
    assert (info.sequence, info.source_id) == (0, "5fa03b91928cf31a")
    assert parse_file_name("199.txt").source_id is None
    assert parse_file_name("199.txt").sequence == 199
    assert parse_file_name("notes.txt").sequence is None


@given(st.text())
def test_clean_paragraph_is_idempotent(text: str) -> None:
    once = clean_paragraph(text)
    assert clean_paragraph(once) == once


@given(st.text(st.characters() | st.sampled_from(" \t\n\f\v\u00a0\u2009")))
def test_clean_paragraph_collapses_what_the_rule_says(text: str) -> None:
    """Lines joined with a space, runs of spaces, tabs and no-break spaces collapsed (the fast
    path for clean text must agree)."""
    joined = " ".join(line.strip() for line in text.split("\n"))
    assert clean_paragraph(text) == re.sub(r"[ \t\f\v\u00a0]+", " ", joined).strip()


@given(st.text())
def test_parser_never_fails_and_keeps_words(text: str) -> None:
    parsed = parse_text_dump(text)
    kept = " ".join(p for p in (parsed.title, parsed.teaser, parsed.body, parsed.date_text) if p)
    # Every word of the input survives somewhere (the "date" keyword of a header excepted).
    for word in text.split():
        if word.lower() != "date" and word.strip():
            assert word in kept or word.replace("\u00a0", " ").strip() in kept
