"""Places: LOC mentions resolved to countries, regions and cities offline (the resolver; the
``places`` table and its views come with the rest of the issue)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.enrich import places


@pytest.fixture(scope="module")
def gaz() -> places.Gazetteer:
    return places.gazetteer()


def country(gaz: places.Gazetteer, mentions: list[str], **kw: str) -> list[str | None]:
    return [r.place.country_code if r.place else r.reason
            for r in places.resolve_article(mentions, gaz=gaz, **kw)]


def test_the_seed_articles_places(gaz: places.Gazetteer) -> None:
    """The place names of ../shared/data/seed/000_5fa03b91928cf31a.txt as they are written
    there (the pipeline test on its NER output comes with the places table)."""
    mentions = ["Südkorea", "Seoul", "Seouls", "Ukraine", "Kiew", "Nordkorea", "Nordkoreas",
                "USA", "Japan", "Japans", "Polen", "Norwegen", "Deutschland", "Russland",
                "Russlands"]
    assert country(gaz, mentions) == ["KR", "KR", "KR", "UA", "UA", "KP", "KP", "US", "JP",
                                      "JP", "PL", "NO", "DE", "RU", "RU"]


@pytest.mark.parametrize(("mention", "code"), [
    ("Südkoreas", "KR"), ("Russlands", "RU"), ("Chinas", "CN"), ("Frankreichs", "FR"),
    ("der Ukraine", "UA"), ("den USA", "US"), ("the U.S.", "US"), ("Britain's", "GB"),
    ("Großbritannien", "GB"), ("Niederlanden", "NL"), ("Tschechien", "CZ"), ("Peking", "CN"),
    ("Moskau", "RU"), ("Warschau", "PL"), ("Wien", "AT"), ("München", "DE"), ("Kyiv", "UA"),
    ("Bayern", "DE"), ("Texas", "US"), ("Gazastreifen", "PS"), ("Weißrussland", "BY"),
])
def test_inflected_short_and_foreign_forms(gaz: places.Gazetteer, mention: str,
                                           code: str) -> None:
    assert country(gaz, [mention]) == [code]


def test_features(gaz: places.Gazetteer) -> None:
    got = {m: r.place.feature if r.place else r.reason for m, r in zip(
        ("Europa", "Nahost", "Asien-Pazifik", "Afrika", "Bayern", "Berlin", "Mexiko", "Balkan"),
        places.resolve_article(["Europa", "Nahost", "Asien-Pazifik", "Afrika", "Bayern",
                                "Berlin", "Mexiko", "Balkan"], gaz=gaz), strict=True)}
    assert got == {"Europa": "continent", "Nahost": "region", "Asien-Pazifik": "region",
                   "Afrika": "continent", "Bayern": "admin1", "Berlin": "city",
                   "Mexiko": "country", "Balkan": "region"}


def test_context_decides_between_namesakes(gaz: places.Gazetteer) -> None:
    def city(mentions: list[str], text: str = "") -> tuple[str, str | None]:
        r = places.resolve_article(mentions, text=text, gaz=gaz)[0]
        assert r.place is not None
        return r.place.name_en, r.place.admin1_code

    assert city(["Paris"]) == ("Paris", "FR.11")
    assert city(["Paris", "USA"]) == ("Paris", "FR.11")  # a country alone does not move it
    assert city(["Paris", "Texas"]) == ("Paris", "US.TX")
    assert city(["Frankfurt"], "Die Börse in Frankfurt") == ("Frankfurt am Main", "DE.05")
    assert city(["Frankfurt"], "Frankfurt an der Oder, Grenze zu Polen") == (
        "Frankfurt (Oder)", "DE.11")
    r = places.resolve_article(["Paris", "Texas"], gaz=gaz)[0]
    assert r.method == "name+context" and 0 < r.confidence < 1


def test_nothing_is_dropped(gaz: places.Gazetteer) -> None:
    out = places.resolve_article(["Xyzzyland", "", "Paris"], gaz=gaz)
    assert [r.reason for r in out] == ["unknown", "unknown", None]
    assert [r.mention for r in out] == ["Xyzzyland", "", "Paris"]


@given(st.text(max_size=40))
def test_key_is_idempotent(text: str) -> None:
    assert places.key(places.key(text)) == places.key(text)
