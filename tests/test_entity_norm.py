"""entities.norm: the name a mention stands for, so analysts can group mentions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.enrich.entitynorm import clean, normalise_mentions


def test_genitive_needs_evidence_for_the_bare_form() -> None:
    got = normalise_mentions([("Südkoreas", "LOC"), ("Südkorea", "LOC"), ("Japans", "LOC"),
                              ("Paris", "LOC"), ("Hans", "PER")], known={"Japan"})
    assert got == ["Südkorea", "Südkorea", "Japan", "Paris", "Hans"]


def test_evidence_must_have_the_same_label() -> None:
    assert normalise_mentions([("Wagners", "ORG"), ("Wagner", "PER")]) == ["Wagners", "Wagner"]


def test_short_person_names_take_the_full_name_once_it_is_unambiguous() -> None:
    got = normalise_mentions([("NATO-Generalsekretär Jens Stoltenberg", "PER"),
                              ("Jens Stoltenberg", "PER"), ("Stoltenberg", "PER"),
                              ("Stoltenbergs", "PER"), ("Stoltenberg", "LOC")])
    assert got == ["Jens Stoltenberg"] * 4 + ["Stoltenberg"]
    # Two different people called Schmidt: the surname stays a surname.
    two = normalise_mentions([("Benno Schmidt", "PER"), ("Helmut Schmidt", "PER"),
                              ("Schmidt", "PER")])
    assert two[2] == "Schmidt"


def test_english_possessive_and_punctuation() -> None:
    assert normalise_mentions([("Obama's", "PER"), ("„NATO“", "ORG"), (" New\nYork ", "LOC")]) \
        == ["Obama", "NATO", "New York"]


def test_case_variants_take_the_most_frequent_spelling() -> None:
    got = normalise_mentions([("Yoon Suk-Yeol", "PER"), ("Yoon Suk-yeol", "PER"),
                              ("Yoon Suk-yeol", "PER"), ("REIL", "LOC"), ("Reil", "LOC")])
    assert got == ["Yoon Suk-yeol"] * 3 + ["Reil", "Reil"]


_names = st.text(alphabet="AaBbSsEe -'.„“", min_size=1, max_size=12)
_mentions = st.lists(st.tuples(_names, st.sampled_from(["PER", "LOC", "ORG"])), max_size=8)


@given(_mentions)
def test_normalising_is_idempotent_and_keeps_order(mentions: list[tuple[str, str]]) -> None:
    norms = normalise_mentions(mentions)
    assert len(norms) == len(mentions)
    again = normalise_mentions(list(zip(norms, (lab for _, lab in mentions), strict=True)))
    assert again == norms
    assert all(clean(n) == n or not clean(n) for n in norms)


def test_english_titles_articles_and_initialisms() -> None:
    """BBC-style English: ``Prime Minister Tony Blair`` is Tony Blair, ``the BBC`` is BBC,
    ``U.S.`` and ``US`` group together; ``The Hague`` and a lone ``President Bush`` stay."""
    got = normalise_mentions([
        ("Prime Minister Tony Blair", "PER"), ("Blair's", "PER"), ("Mr Blair", "PER"),
        ("the BBC", "ORG"), ("BBC", "ORG"), ("U.S.", "LOC"), ("US", "LOC"), ("the U.S", "LOC"),
        ("The Hague", "LOC"), ("President Bush", "PER"), ("U.N.", "ORG")])
    assert got == ["Tony Blair", "Tony Blair", "Tony Blair", "BBC", "BBC", "US", "US", "US",
                   "The Hague", "President Bush", "UN"]


def test_the_goes_only_with_evidence() -> None:
    assert normalise_mentions([("the Guardian", "ORG"), ("Guardian", "ORG"),
                               ("The Times", "ORG")]) == ["Guardian", "Guardian", "The Times"]


@given(st.lists(st.tuples(st.sampled_from(
    ["Prime Minister Tony Blair", "Tony Blair", "Blair", "Mr Blair", "the BBC", "BBC", "U.S.",
     "US", "The Hague", "NATO", "Jens Stoltenberg", "Stoltenbergs", "Südkoreas", "Südkorea"]),
    st.sampled_from(["PER", "LOC", "ORG"])), max_size=8))
def test_english_norms_are_idempotent(mentions: list[tuple[str, str]]) -> None:
    once = normalise_mentions(mentions)
    assert normalise_mentions(list(zip(once, [label for _, label in mentions],
                                       strict=True))) == once
