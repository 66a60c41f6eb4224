"""Places: LOC mentions resolved to countries, regions and cities offline (the resolver; the
``places`` table and its views come with the rest of the issue)."""

from __future__ import annotations

from pathlib import Path

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


def test_the_pipeline_resolves_the_seed_articles_places(shared: Path, tmp_path: Path) -> None:
    """The seed article through the whole pipeline and its shipped German model: the places
    table has the countries of its LOC mentions."""
    from datetime import date

    from pipeline import stages
    from pipeline.catalog import views
    from pipeline.ingest import readers
    from pipeline.settings import Settings

    settings = Settings.from_mapping({"warehouse": tmp_path / "wh"})
    seed = shared / "seed" / "000_5fa03b91928cf31a.txt"
    stages.run_batch(readers.list_input_files(seed), date(2023, 1, 31), settings)
    _, rows = views.query(settings, "SELECT text, country_code, reason, feature FROM places")
    found: dict[str, set[str | None]] = {}
    for text, code, _, _ in rows:
        found.setdefault(text, set()).add(code)
    expected = {"Südkorea": "KR", "Seoul": "KR", "Ukraine": "UA", "Nordkorea": "KP",
                "USA": "US", "Japan": "JP", "Polen": "PL", "Norwegen": "NO",
                "Deutschland": "DE", "Russland": "RU"}
    for name, code in expected.items():
        assert found.get(name) == {code}, (name, found.get(name))
    _, daily = views.query(settings, "SELECT country_code, sum(mentions) FROM "
                                     "country_mentions_daily GROUP BY ALL")
    assert dict(daily)["KR"] >= 10


def test_the_gazetteer_cache(tmp_path: Path) -> None:
    """Kept as a pickle named by the code and data versions: loaded when present, rebuilt when
    unreadable, older versions' files removed."""
    (tmp_path / "gazetteer-0000000000000000.pickle").write_bytes(b"an older version")
    built = places.gazetteer(tmp_path)
    [path] = list(tmp_path.glob("gazetteer-*.pickle"))
    places.gazetteer.cache_clear()
    loaded = places.gazetteer(tmp_path)
    assert loaded is not built and loaded.names.keys() == built.names.keys()
    assert country(loaded, ["Kiew", "Russlands"]) == ["UA", "RU"]
    path.write_bytes(b"torn")
    places.gazetteer.cache_clear()
    assert country(places.gazetteer(tmp_path), ["Seoul"]) == ["KR"]
    assert path.read_bytes() != b"torn"


def test_the_dev_set_is_labelled_with_real_codes(gaz: places.Gazetteer) -> None:
    """training/places/dev.tsv: 300+ place mentions, each labelled with an ISO country the
    gazetteer knows, REGION, or - (not a place); offsets that cut the mention out of its
    context's document are checked by `make eval-places` itself."""
    from training.places.evaluate import load_gold

    gold = load_gold()
    assert sum(1 for g in gold if g.country != "-") >= 300
    assert {g.source for g in gold} == {"smartdata", "10kgnad", "bbc"}
    for g in gold:
        assert g.country in gaz.countries or g.country in ("REGION", "-"), g
        assert g.end - g.start == len(g.mention), g
        assert not g.city or g.country not in ("REGION", "-"), g


def test_batches_published_before_places_get_them_at_the_next_refresh(
        demo_warehouse: object, tmp_path: Path) -> None:
    """No parsing or enrichment again: the catalog refresh derives places from the published
    entities and articles, and the rows equal those a publish writes."""
    import shutil

    from pipeline import stages
    from pipeline.catalog import views
    from pipeline.settings import Settings
    from pipeline.warehouse import derived, storage

    assert isinstance(demo_warehouse, Settings)
    copy = tmp_path / "warehouse"
    shutil.copytree(demo_warehouse.warehouse, copy, symlinks=True)
    settings = Settings.from_mapping({"warehouse": copy})
    query = "SELECT * EXCLUDE (run_id) FROM places ORDER BY ALL"
    before = views.query(settings, query)[1]
    assert before
    wh = storage.Warehouse(copy)
    for batch in wh.published_batches():  # as published by a version without the table
        version = wh.current_version(batch)
        assert version is not None
        shutil.rmtree(version / "places")
        wh.table_link("places", batch).unlink()
    derived._complete_marker(wh, "places").unlink()
    stages.refresh_catalog(settings)
    assert views.query(settings, query)[1] == before
    assert derived._complete_marker(wh, "places").exists()
