"""Near-duplicate clustering: time and peak memory of ``cluster_arrays`` on template articles.

Archives are full of template articles: police reports, stock notes and weather reports that
differ only in numbers, names and places, so each is a near duplicate of thousands of others
and shares LSH buckets with all of them. This builds N such articles from 36 German templates
(12 of each kind, slots filled from a seeded ``numpy`` generator), computes their signatures
with ``neardup.signatures`` and clusters them in a fresh process per run (peak RSS is that
process's ``VmHWM``: its ``ru_maxrss`` would include this parent's RSS, see ``_status``;
``RLIMIT_AS`` caps the address space so the old algorithm fails with ``MemoryError`` instead of
taking the machine down). Every size
runs with the old all-pairs algorithm (``--algorithm old``, a copy of the code before the
change) and the new one side by side, then 2,000 new articles against 20,000 earlier ones (the
earlier batch clustered first, by the new algorithm, as the pipeline would have published it).

A run "clusters correctly" when every cluster holds articles of one template only (``pure``);
where the old algorithm completes, the new one's ids are compared with its ids (``same``).

    python -m bench.neardup_memory [--n 4000 8000 20000] [--earlier 20000 --new 2000]
                                    [--algorithm both|old|new] [--limit-gb 6]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.transform import neardup

POLICE = (
    "Polizeibericht {stadt}: Am {tag} gegen {uhr} Uhr ist es in der {strasse} zu einem "
    "Einbruch in ein Einfamilienhaus gekommen. Unbekannte Täter hebelten die Terrassentür auf "
    "und durchsuchten sämtliche Räume. Sie entwendeten Schmuck und Bargeld im Wert von etwa "
    "{betrag} Euro. Die Kriminalpolizei {stadt} hat die Ermittlungen aufgenommen und bittet "
    "Zeugen, die verdächtige Personen oder Fahrzeuge beobachtet haben, sich unter der Nummer "
    "{telefon} zu melden.",
    "Verkehrsunfall auf der {strasse} in {stadt}: Ein {alter}-jähriger Autofahrer aus {ort} "
    "hat am {tag} die Kontrolle über seinen Wagen verloren und ist gegen einen Baum geprallt. "
    "Der Mann wurde schwer verletzt und mit einem Rettungshubschrauber in ein Krankenhaus "
    "gebracht. Die Straße war für etwa {stunden} Stunden voll gesperrt. Den Sachschaden "
    "schätzt die Polizei auf rund {betrag} Euro. Die Unfallursache ist noch unklar.",
    "In {stadt} ist am {tag} eine {alter}-jährige Frau Opfer eines Trickbetrugs geworden. "
    "Ein Mann gab sich am Telefon als Polizeibeamter aus und behauptete, in der Nachbarschaft "
    "sei eingebrochen worden. Er überredete die Seniorin, ihre Wertsachen einem Boten zu "
    "übergeben, der gegen {uhr} Uhr an ihrer Wohnung in der {strasse} erschien. Der Schaden "
    "liegt bei {betrag} Euro. Die Polizei warnt: Echte Polizisten fragen niemals nach Geld.",
    "Brand in {stadt}: In der Nacht zum {tag} ist in einem Mehrfamilienhaus in der {strasse} "
    "ein Feuer ausgebrochen. Die Feuerwehr war mit {zahl} Einsatzkräften vor Ort und konnte "
    "den Brand nach etwa {stunden} Stunden löschen. {verletzte} Bewohner wurden mit Verdacht "
    "auf Rauchvergiftung ins Krankenhaus gebracht. Die Brandursache ist noch unklar, die "
    "Kriminalpolizei ermittelt. Der Schaden wird auf {betrag} Euro geschätzt.",
    "Bei einer Verkehrskontrolle auf der {strasse} in {stadt} haben Beamte am {tag} einen "
    "{alter}-jährigen Fahrer gestoppt, der deutlich zu schnell unterwegs war. Statt der "
    "erlaubten 50 km/h zeigte das Messgerät {tempo} km/h an. Ein Atemalkoholtest ergab einen "
    "Wert von {promille} Promille. Der Führerschein wurde sichergestellt, den Mann erwartet "
    "ein Strafverfahren wegen Trunkenheit im Verkehr.",
    "Die Polizei {stadt} sucht nach einem {alter}-jährigen Mann aus {ort}, der seit dem {tag} "
    "vermisst wird. {name} verließ gegen {uhr} Uhr seine Wohnung in der {strasse} und kehrte "
    "nicht zurück. Er ist etwa {groesse} Meter groß, schlank und trug zuletzt eine dunkle "
    "Jacke. Hinweise zum Aufenthaltsort nimmt jede Polizeidienststelle oder die Nummer "
    "{telefon} entgegen.",
    "Fahrraddiebstahl in {stadt}: Zwischen dem {tag} und dem Folgetag haben Unbekannte in der "
    "{strasse} {zahl} hochwertige E-Bikes aus einem verschlossenen Kellerraum gestohlen. Die "
    "Täter brachen die Tür auf und entkamen unerkannt. Der Gesamtwert der Räder liegt bei "
    "etwa {betrag} Euro. Zeugen werden gebeten, sich beim Polizeirevier {ort} zu melden.",
    "Ein {alter}-jähriger Radfahrer ist am {tag} in {stadt} von einem abbiegenden Lastwagen "
    "erfasst worden. Der Unfall ereignete sich gegen {uhr} Uhr an der Kreuzung {strasse}. "
    "Der Radfahrer erlitt schwere Verletzungen. Der {alter2}-jährige Lkw-Fahrer blieb "
    "unverletzt und steht unter Schock. Ein Gutachter soll klären, ob der Fahrer den "
    "Radfahrer im toten Winkel übersehen hat.",
    "Festnahme in {stadt}: Nach einem Raubüberfall auf eine Tankstelle in der {strasse} hat "
    "die Polizei am {tag} einen {alter}-jährigen Tatverdächtigen gefasst. Der maskierte Mann "
    "hatte die Angestellte mit einem Messer bedroht und {betrag} Euro erbeutet. Dank der "
    "Beschreibung mehrerer Zeugen wurde er wenig später in {ort} gestellt. Er soll noch heute "
    "dem Haftrichter vorgeführt werden.",
    "Sachbeschädigung in {stadt}: In der Nacht auf den {tag} haben Unbekannte in der "
    "{strasse} die Reifen von {zahl} geparkten Autos zerstochen. Der Schaden beläuft sich "
    "nach ersten Schätzungen auf {betrag} Euro. Die Polizei prüft einen Zusammenhang mit "
    "ähnlichen Taten in {ort} und bittet Anwohner um Hinweise unter {telefon}.",
    "Am {tag} hat die Polizei in {stadt} eine illegale Cannabisplantage entdeckt. In einer "
    "Lagerhalle in der {strasse} fanden die Beamten {zahl} Pflanzen sowie professionelle "
    "Beleuchtungsanlagen. Ein {alter}-jähriger Mann aus {ort} wurde vorläufig festgenommen. "
    "Der Verkaufswert der Drogen wird auf {betrag} Euro geschätzt.",
    "Wildunfall bei {stadt}: Auf der Landstraße zwischen {stadt} und {ort} ist am {tag} gegen "
    "{uhr} Uhr ein Auto mit einem Reh zusammengestoßen. Die {alter}-jährige Fahrerin blieb "
    "unverletzt, am Wagen entstand ein Schaden von etwa {betrag} Euro. Die Polizei rät, "
    "in der Dämmerung besonders vorsichtig zu fahren und auf Wildwechsel zu achten.",
)
STOCK = (
    "Die Aktie von {firma} hat am {tag} {richtung} geschlossen. Das Papier notierte zum "
    "Handelsschluss bei {kurs} Euro, ein Minus von {prozent} Prozent. Händler verwiesen auf "
    "schwache Quartalszahlen und einen gesenkten Ausblick für das laufende Geschäftsjahr. "
    "Der {index} verlor insgesamt {prozent2} Prozent auf {punkte} Punkte.",
    "{firma} hat im abgelaufenen Quartal einen Umsatz von {milliarden} Milliarden Euro "
    "erzielt und damit die Erwartungen der Analysten übertroffen. Der Gewinn je Aktie lag bei "
    "{kurs2} Euro. Die Aktie stieg im frühen Handel um {prozent} Prozent auf {kurs} Euro. "
    "Vorstandschef {name} bestätigte die Prognose für das Gesamtjahr.",
    "Der {index} ist mit Gewinnen in die neue Woche gestartet. Zum Handelsstart am {tag} "
    "stieg der Leitindex um {prozent} Prozent auf {punkte} Punkte. Zu den größten Gewinnern "
    "zählten die Papiere von {firma}, die {prozent2} Prozent zulegten. Der Euro notierte bei "
    "{dollar} US-Dollar.",
    "Analysten der {bank} haben das Kursziel für {firma} von {kurs2} auf {kurs} Euro "
    "angehoben und die Einstufung auf Kaufen belassen. Das Unternehmen sei gut aufgestellt, "
    "um von der steigenden Nachfrage zu profitieren, schrieb Analyst {name} in einer Studie "
    "vom {tag}. Die Aktie legte daraufhin um {prozent} Prozent zu.",
    "Ölpreise am {tag}: Ein Barrel der Nordseesorte Brent kostete am Morgen {oel} US-Dollar, "
    "das waren {prozent} Prozent mehr als am Vortag. Der Preis für ein Barrel der "
    "amerikanischen Sorte WTI stieg auf {oel2} Dollar. Händler verwiesen auf sinkende "
    "Lagerbestände in den Vereinigten Staaten.",
    "Gold hat am {tag} weiter zugelegt. Eine Feinunze kostete am Nachmittag {gold} US-Dollar, "
    "ein Plus von {prozent} Prozent. Anleger suchen angesichts der unsicheren Konjunktur "
    "sichere Häfen. Auch Silber verteuerte sich um {prozent2} Prozent auf {silber} Dollar je "
    "Unze.",
    "Die Anteilsscheine von {firma} sind am {tag} nach einer Gewinnwarnung eingebrochen. "
    "Zeitweise verlor das Papier {prozent} Prozent und fiel auf {kurs} Euro, den tiefsten "
    "Stand seit {jahre} Jahren. Das Unternehmen rechnet nun mit einem operativen Ergebnis von "
    "höchstens {millionen} Millionen Euro. Finanzvorstand {name} nannte höhere Kosten als Grund.",
    "Devisen: Der Euro hat am {tag} gegenüber dem US-Dollar leicht nachgegeben. Die "
    "Gemeinschaftswährung kostete am Nachmittag {dollar} Dollar. Die Europäische Zentralbank "
    "setzte den Referenzkurs auf {dollar2} Dollar fest. Ein Dollar kostete damit {euro} Euro.",
    "{firma} will bis zu {zahl} Stellen streichen. Das teilte der Konzern am {tag} in {stadt} "
    "mit. Mit dem Sparprogramm sollen die Kosten bis zum Jahr {jahr} um {millionen} Millionen "
    "Euro sinken. An der Börse kam die Nachricht gut an, die Aktie stieg um {prozent} Prozent.",
    "Die Hauptversammlung von {firma} hat am {tag} eine Dividende von {kurs2} Euro je Aktie "
    "beschlossen. Das sind {cent} Cent mehr als im Vorjahr. Insgesamt schüttet das "
    "Unternehmen {millionen} Millionen Euro an seine Aktionäre aus. Aufsichtsratschef {name} "
    "wurde mit {prozent} Prozent der Stimmen wiedergewählt.",
    "Bitcoin hat am {tag} die Marke von {btc} US-Dollar überschritten. Die älteste "
    "Kryptowährung legte binnen 24 Stunden um {prozent} Prozent zu. Auch andere Digitalwährungen "
    "wie Ether verteuerten sich, Ether stieg um {prozent2} Prozent auf {eth} Dollar.",
    "Der {index} hat am {tag} leichter geschlossen. Der Index gab um {prozent} Prozent auf "
    "{punkte} Punkte nach. Schlusslicht waren die Aktien von {firma} mit einem Minus von "
    "{prozent2} Prozent. Der Umsatz an der Frankfurter Börse lag bei {milliarden} Milliarden "
    "Euro.",
)
WEATHER = (
    "Das Wetter in {region}: Am {tag} bleibt es überwiegend bewölkt, zeitweise fällt Regen. "
    "Die Temperaturen erreichen {temp} bis {temp2} Grad. Der Wind weht mäßig aus {richtung2}, "
    "in Böen frisch. In der Nacht kühlt es auf {tief} Grad ab. Am Wochenende wird es "
    "freundlicher, mit viel Sonnenschein und bis zu {temp3} Grad.",
    "Unwetterwarnung für {region}: Der Deutsche Wetterdienst warnt für den {tag} vor "
    "Gewittern mit Starkregen von bis zu {regen} Litern pro Quadratmeter, Hagel und "
    "Sturmböen bis {wind} Kilometer pro Stunde. Die Warnung gilt von {uhr} Uhr bis in die "
    "Nacht. Autofahrer sollten vorsichtig fahren.",
    "Hitzewelle in {region}: Am {tag} steigen die Temperaturen auf bis zu {temp} Grad. Der "
    "Deutsche Wetterdienst hat eine Hitzewarnung herausgegeben. Ärzte raten, viel zu trinken "
    "und die Mittagssonne zu meiden. Erst zum Wochenende bringen Gewitter eine Abkühlung auf "
    "{temp2} Grad.",
    "Glätte in {region}: In der Nacht zum {tag} sinken die Temperaturen auf bis zu minus "
    "{tief} Grad. Auf den Straßen droht Glatteis, vor allem auf Brücken und in höheren Lagen. "
    "Der Winterdienst ist mit {zahl} Fahrzeugen im Einsatz. Tagsüber bleibt es mit {temp} "
    "Grad frostig.",
    "Sturmtief {sturm} zieht am {tag} über {region}. Es werden Orkanböen von bis zu {wind} "
    "Kilometern pro Stunde erwartet. Die Bahn hat bereits {zahl} Verbindungen gestrichen. "
    "Die Behörden raten, Wälder und Parks zu meiden und lose Gegenstände zu sichern.",
    "Pollenflug in {region}: Am {tag} ist die Belastung durch Birkenpollen hoch, Gräserpollen "
    "fliegen mäßig. Allergiker sollten morgens lüften und Wäsche nicht im Freien trocknen. Die "
    "Temperaturen liegen bei {temp} Grad, es bleibt trocken.",
    "Der {monat} war in {region} {vergleich} als im langjährigen Mittel. Die "
    "Durchschnittstemperatur lag bei {temp} Grad, es fielen {regen} Liter Regen pro "
    "Quadratmeter. Die Sonne schien {sonne} Stunden, teilte der Deutsche Wetterdienst am {tag} "
    "mit.",
    "Nebel in {region}: Am Morgen des {tag} herrscht in vielen Teilen dichter Nebel mit "
    "Sichtweiten unter {sicht} Metern. Im Laufe des Tages lockert es auf, die Temperaturen "
    "steigen auf {temp} Grad. Am Flughafen kam es zu Verspätungen von bis zu {stunden} Stunden.",
    "Hochwasser in {region}: Nach tagelangem Regen ist der Pegel des Flusses bei {ort} am {tag} "
    "auf {pegel} Meter gestiegen. Die Feuerwehr hat Sandsäcke verteilt, {zahl} Keller stehen "
    "unter Wasser. Für die kommenden Tage wird weiterer Regen erwartet.",
    "Schnee in {region}: Bis zum {tag} fallen oberhalb von {hoehe} Metern bis zu {schnee} "
    "Zentimeter Neuschnee. Die Skigebiete freuen sich auf einen guten Saisonstart. In tieferen "
    "Lagen regnet es bei {temp} Grad.",
    "Der Frühling kommt nach {region}: Am {tag} klettern die Temperaturen auf bis zu {temp} "
    "Grad. Dazu scheint die Sonne bis zu {sonne} Stunden. Erst in der nächsten Woche wird es "
    "mit {temp2} Grad wieder kühler und regnerisch.",
    "Waldbrandgefahr in {region}: Wegen der anhaltenden Trockenheit gilt am {tag} die "
    "höchste Warnstufe. Grillen und Rauchen im Wald sind verboten. Seit Wochen fielen weniger "
    "als {regen} Liter Regen pro Quadratmeter, die Temperaturen liegen bei {temp} Grad.",
)
BOILERPLATE = (
    (  # police press offices
        "Die Ermittlungen dauern an.", "Die Polizei bittet um Hinweise aus der Bevölkerung.",
        "Wer etwas Verdächtiges beobachtet hat, wird gebeten, sich zu melden.",
        "Hinweise nimmt auch die Onlinewache entgegen.",
        "Die Spurensicherung war mehrere Stunden vor Ort.",
        "Ein Zusammenhang mit früheren Taten wird geprüft.",
        "Die Staatsanwaltschaft hat ein Ermittlungsverfahren eingeleitet.",
        "Zur Sicherung von Spuren wurde der Bereich weiträumig abgesperrt.",
        "Es kam zu erheblichen Behinderungen im Berufsverkehr.",
        "Die Beamten nahmen die Personalien mehrerer Zeugen auf.",
        "Ein Sprecher der Polizei sagte, man ermittle in alle Richtungen.",
        "Die Polizei rät, Wertsachen niemals unbeaufsichtigt zu lassen.",
        "Anwohner hatten den Notruf gewählt, nachdem sie laute Geräusche gehört hatten.",
        "Die Identität der Beteiligten ist der Polizei bekannt.",
        "Gegen den Mann wird nun wegen mehrerer Delikte ermittelt.",
        "Nach Angaben der Polizei bestand zu keinem Zeitpunkt Gefahr für Unbeteiligte.",
        "Die Feuerwehr unterstützte die Einsatzkräfte mit Licht und Gerät.",
        "Ein Notarzt versorgte die Verletzten noch an der Unfallstelle.",
        "Das Fahrzeug wurde abgeschleppt und von der Polizei sichergestellt.",
        "Rückfragen beantwortet die Pressestelle des Polizeipräsidiums werktags.",
        "Zeugen schilderten den Beamten den Ablauf des Geschehens.",
        "Die Kriminalpolizei wertet die Aufnahmen einer Überwachungskamera aus.",
        "Der Sachverhalt wird der Staatsanwaltschaft zur Prüfung vorgelegt.",
        "Die Beamten leiteten ein Verfahren wegen Sachbeschädigung ein.",
    ),
    (  # market desks
        "Marktbeobachter sprachen von einem nervösen Handel.",
        "Die Umsätze blieben insgesamt eher dünn.",
        "Anleger warten auf neue Daten vom amerikanischen Arbeitsmarkt.",
        "Im Blick stehen auch die Zinsentscheidungen der Notenbanken.",
        "Die Aussicht auf sinkende Zinsen stützte die Kurse.",
        "Sorgen um die Konjunktur in China belasteten die Stimmung.",
        "Händler verwiesen auf Gewinnmitnahmen nach der jüngsten Rally.",
        "Auch die Anleihemärkte gerieten in Bewegung.",
        "Die Rendite zehnjähriger Bundesanleihen stieg leicht.",
        "An der Wall Street hatten die Indizes zuvor uneinheitlich geschlossen.",
        "Experten rechnen in den kommenden Wochen mit weiteren Schwankungen.",
        "Die Berichtssaison nimmt in dieser Woche Fahrt auf.",
        "Einige Analysten halten die Bewertungen inzwischen für ambitioniert.",
        "Der Ölpreis spielte für die Stimmung eine untergeordnete Rolle.",
        "Die Inflationsdaten fielen etwas niedriger aus als erwartet.",
        "Branchenwerte aus dem Autosektor gerieten unter Druck.",
        "Technologiewerte waren dagegen gefragt.",
        "Fondsmanager schichten zunehmend in defensive Titel um.",
        "Die Volatilität an den Märkten hat zuletzt wieder zugenommen.",
        "Charttechniker sehen eine wichtige Unterstützung knapp unter dem aktuellen Niveau.",
        "Die Stimmung unter den Einkaufsmanagern hat sich leicht aufgehellt.",
        "Der Handel verlief vor dem langen Wochenende ruhig.",
        "Privatanleger zeigten sich zuletzt wieder kauffreudiger.",
        "Am Nachmittag richteten sich die Blicke über den Atlantik.",
    ),
    (  # weather services
        "Die Meteorologen rechnen mit einer wechselhaften Woche.",
        "In den Höhenlagen kann es stürmisch werden.",
        "Nachts ist vereinzelt Bodenfrost möglich.",
        "Im Süden bleibt es länger trocken als im Norden.",
        "Ein Hochdruckgebiet sorgt später für Beruhigung.",
        "Die Luft ist ungewöhnlich feucht für die Jahreszeit.",
        "Am Alpenrand sind Föhneffekte zu erwarten.",
        "Die UV-Belastung ist mäßig bis hoch.",
        "Die Böden sind vielerorts noch zu trocken.",
        "An den Küsten frischt der Wind zeitweise auf.",
        "Im Bergland kann es kräftige Schauer geben.",
        "Die Sonnenstunden liegen deutlich über dem Durchschnitt.",
        "Für Autofahrer besteht streckenweise Aquaplaninggefahr.",
        "Zum Abend hin ziehen dichtere Wolkenfelder auf.",
        "Die Nächte bleiben mild, Tropennächte sind aber nicht zu erwarten.",
        "Im Flachland weht nur ein schwacher Wind.",
        "Die Schneefallgrenze sinkt zeitweise deutlich ab.",
        "Landwirte hoffen auf ergiebigen Regen.",
        "Die Wetterlage bleibt nach Einschätzung der Experten stabil.",
        "Kaltluft aus Skandinavien erreicht den Norden.",
        "Örtlich sind Unwetter nicht ausgeschlossen.",
        "Die Luftqualität ist gut.",
        "Der Luftdruck steigt im Tagesverlauf an.",
        "Die Aussichten für das Wochenende sind durchwachsen.",
    ),
)
"""Generic closing sentences of each kind: a template ends with 12 of its kind's, always the
same, as press offices and desks do (so a template's articles are near identical, and share
most LSH bands; different templates of a kind share some sentences, not enough to match)."""


def _closing(kind: int, template: int) -> str:
    pool = BOILERPLATE[kind]
    picks = np.random.default_rng(1000 + template).choice(len(pool), 12, replace=False)
    return "\n\n" + " ".join(pool[i] for i in picks)


TEMPLATES = tuple(t + _closing(kind, i) for kind, group in enumerate((POLICE, STOCK, WEATHER))
                  for i, t in enumerate(group, start=12 * kind))

CITIES = ("Augsburg", "Bielefeld", "Bochum", "Bonn", "Braunschweig", "Bremen", "Chemnitz",
          "Darmstadt", "Dortmund", "Dresden", "Duisburg", "Erfurt", "Essen", "Freiburg",
          "Fulda", "Gießen", "Göttingen", "Hagen", "Halle", "Hamm", "Heilbronn", "Ingolstadt",
          "Jena", "Kassel", "Kiel", "Koblenz", "Krefeld", "Leipzig", "Lübeck", "Magdeburg",
          "Mainz", "Mannheim", "Münster", "Neuss", "Oldenburg", "Osnabrück", "Paderborn",
          "Potsdam", "Regensburg", "Rostock", "Saarbrücken", "Siegen", "Trier", "Ulm",
          "Wiesbaden", "Würzburg", "Wuppertal", "Zwickau")
STREETS = ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Lindenallee",
           "Bergstraße", "Kirchweg", "Am Markt", "Goethestraße", "Schillerstraße",
           "Friedhofstraße", "Ringstraße", "Mühlenweg", "Industriestraße", "Poststraße")
NAMES = ("Thomas Müller", "Andreas Schmidt", "Stefan Schneider", "Michael Fischer",
         "Jürgen Weber", "Frank Meyer", "Peter Wagner", "Klaus Becker", "Markus Schulz",
         "Sabine Hoffmann", "Anna Koch", "Julia Richter", "Petra Klein", "Monika Wolf")
FIRMS = ("Siemens", "BASF", "Bayer", "Allianz", "Daimler Truck", "Volkswagen", "BMW",
         "Deutsche Bank", "Commerzbank", "Infineon", "SAP", "Adidas", "Puma", "Lufthansa",
         "Zalando", "Henkel", "Beiersdorf", "Continental", "Merck", "Fresenius", "Vonovia",
         "RWE", "Eon", "Heidelberg Materials", "Rheinmetall", "Porsche", "Symrise", "Brenntag")
INDEXES = ("Dax", "MDax", "SDax", "TecDax", "Euro Stoxx 50")
BANKS = ("Deutschen Bank", "Berenberg Bank", "DZ Bank", "Baader Bank", "Commerzbank",
         "Metzler Bank", "Warburg Research", "Jefferies", "Goldman Sachs")
REGIONS = ("Bayern", "Baden-Württemberg", "Hessen", "Sachsen", "Thüringen", "Niedersachsen",
           "Nordrhein-Westfalen", "Rheinland-Pfalz", "Brandenburg", "Schleswig-Holstein",
           "Mecklenburg-Vorpommern", "Sachsen-Anhalt", "Berlin", "Hamburg", "dem Saarland",
           "dem Allgäu", "der Eifel", "dem Harz", "dem Schwarzwald", "Franken")
MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
          "Oktober", "November", "Dezember")
STORMS = ("Xaver", "Sabine", "Zeynep", "Ylenia", "Friederike", "Kyrill", "Herwart", "Burglind")


def _values(rng: np.random.Generator) -> dict[str, str]:
    """One article's slot values: every slot of every template, drawn anew."""
    def pick(pool: Sequence[str]) -> str:
        return pool[int(rng.integers(len(pool)))]

    def num(lo: int, hi: int) -> str:
        return str(int(rng.integers(lo, hi)))

    def dec(lo: float, hi: float, digits: int = 2) -> str:
        return f"{rng.uniform(lo, hi):.{digits}f}".replace(".", ",")

    day = f"{num(1, 29)}. {pick(MONTHS)}"
    return {
        "stadt": pick(CITIES), "ort": pick(CITIES), "strasse": pick(STREETS),
        "tag": day, "uhr": f"{num(0, 24)}.{num(10, 60)}", "betrag": f"{num(1, 99)}.{num(100, 999)}",
        "telefon": f"0{num(200, 999)} {num(10000, 99999)}", "alter": num(18, 90),
        "alter2": num(18, 90), "ort2": pick(CITIES), "stunden": num(1, 9), "zahl": num(2, 400),
        "verletzte": num(2, 12), "tempo": num(70, 160), "promille": dec(0.5, 3.0),
        "name": pick(NAMES), "groesse": dec(1.6, 2.0), "firma": pick(FIRMS),
        "richtung": pick(("schwächer", "leichter", "deutlich tiefer", "im Minus")),
        "kurs": dec(5, 400), "kurs2": dec(1, 20), "prozent": dec(0.1, 9.9, 1),
        "prozent2": dec(0.1, 9.9, 1), "index": pick(INDEXES), "punkte": num(12000, 19000),
        "milliarden": dec(1, 90, 1), "dollar": dec(1.02, 1.18, 4), "dollar2": dec(1.02, 1.18, 4),
        "euro": dec(0.85, 0.98, 4), "bank": pick(BANKS), "oel": dec(60, 110),
        "oel2": dec(55, 105), "gold": num(1700, 2500), "silber": dec(18, 32), "jahre": num(2, 15),
        "millionen": num(50, 3000), "jahr": num(2025, 2031), "cent": num(5, 60),
        "btc": num(20000, 100000), "eth": num(1000, 4000), "region": pick(REGIONS),
        "temp": num(-5, 38), "temp2": num(-5, 38), "temp3": num(-5, 38), "tief": num(-15, 15),
        "richtung2": pick(("Nord", "Nordost", "Ost", "Süd", "Südwest", "West", "Nordwest")),
        "regen": num(5, 120), "wind": num(60, 160), "sturm": pick(STORMS), "monat": pick(MONTHS),
        "vergleich": pick(("wärmer", "kälter", "nasser", "trockener", "sonniger")),
        "sonne": num(20, 320), "sicht": num(50, 300), "pegel": dec(3, 9), "hoehe": num(600, 1500),
        "schnee": num(5, 60),
    }


def articles(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` template articles and the index of each one's template. Templates are as skewed
    as in an archive (Zipf: the daily market note is far more common than a wildlife accident):
    the most common one has about a quarter of the articles."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(TEMPLATES) + 1)
    kinds = rng.permutation(len(TEMPLATES))[rng.choice(len(TEMPLATES), size=n,
                                                        p=weights / weights.sum())]
    return [TEMPLATES[k].format(**_values(rng)) for k in kinds], kinds


def old_cluster_arrays(new_ids: Sequence[str], new_sigs: np.ndarray, earlier_ids: Sequence[str],
                       earlier_clusters: Sequence[str], earlier_sigs: np.ndarray,
                       threshold: float = neardup.THRESHOLD) -> dict[str, str]:
    """``neardup.cluster_arrays`` before bounding it (all pairs of every bucket), for the
    side-by-side figures: the ids of ``old_roots``."""
    if not new_ids:
        return {}
    ids = [*earlier_clusters, *new_ids]
    return {a: ids[r] for a, r in zip(new_ids, old_roots(new_sigs, earlier_sigs, threshold),
                                       strict=True)}


def old_roots(new_sigs: np.ndarray, earlier_sigs: np.ndarray,
              threshold: float = neardup.THRESHOLD) -> list[int]:
    """The all-pairs clustering (every pair of every bucket is verified), kept as the reference
    of ``tests/test_neardup.py`` and of this benchmark: each new article's union-find root
    (earlier articles ``0..m-1``, new ``m..``)."""
    band_keys, bands = neardup.band_keys, neardup.BANDS
    m, n = len(earlier_sigs), len(new_sigs)
    new_keys, old_keys = band_keys(new_sigs), band_keys(earlier_sigs)
    later: list[np.ndarray] = []  # candidate pairs (later, earlier), indexes into all
    earlier: list[np.ndarray] = []
    for band in range(bands):
        keys = new_keys[:, band]
        if m:
            order = np.argsort(old_keys[:, band], kind="stable")
            ranked = old_keys[order, band]
            lo = np.searchsorted(ranked, keys, "left")
            counts = np.searchsorted(ranked, keys, "right") - lo
            hit = np.flatnonzero(counts)
            if hit.size:  # every new article with each earlier one of an equal key
                c = counts[hit]
                within = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
                later.append(np.repeat(hit + m, c))
                earlier.append(order[np.repeat(lo[hit], c) + within])
        order = np.argsort(keys, kind="stable")  # pairs within the new articles
        ranked = keys[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        ends = np.r_[starts[1:], n]
        shared = ends - starts > 1  # only keys held by several new articles make pairs
        for start, end in zip(starts[shared], ends[shared], strict=True):
            group = np.sort(order[start:end])
            before, after = np.triu_indices(len(group), 1)
            later.append(m + group[after])
            earlier.append(m + group[before])
    size = m + n
    codes = np.unique(np.concatenate(later) * size + np.concatenate(earlier)) if later else \
        np.empty(0, dtype=np.int64)  # sorted: by later member, then earlier
    first, second = codes // size, codes % size
    sigs = np.concatenate([earlier_sigs, new_sigs]) if m else new_sigs
    similar = np.empty(len(codes), dtype=bool)
    for at in range(0, len(codes), 65_536):  # estimated Jaccard, a block of pairs at a time
        i, j = first[at:at + 65_536], second[at:at + 65_536]
        similar[at:at + 65_536] = (sigs[i] == sigs[j]).mean(axis=1) >= threshold
    parent = list(range(m + n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(first[similar].tolist(), second[similar].tolist(), strict=True):
        if find(i) != find(j):
            a, b = sorted((find(i), find(j)))
            parent[b] = a  # the earlier member's root wins
    return [find(m + i) for i in range(n)]


def prepare(path: Path, n: int, earlier: int, seed: int) -> None:
    """Signatures (and, with ``earlier``, the earlier batch's published clusters) to ``path``:
    built once, so every measured process only loads them and clusters."""
    texts, kinds = articles(earlier + n, seed)
    sigs = neardup.signatures(texts)
    ids = [f"a{i:06d}" for i in range(earlier + n)]
    clusters = neardup.cluster_arrays(ids[:earlier], sigs[:earlier], [], [],
                                      np.empty((0, neardup.NUM_PERM), np.uint32))
    np.savez(path, sigs=sigs, kinds=kinds, ids=np.array(ids),
             clusters=np.array([clusters[a] for a in ids[:earlier]], dtype=str),
             earlier=np.array(earlier))


def _status(field: str) -> int:
    """A KiB figure of ``/proc/self/status``: ``VmRSS`` (now) or ``VmHWM`` (peak).

    ``VmHWM`` is the peak of this process image, where ``ru_maxrss`` is not: Linux carries it
    over ``exec`` from the forked parent, so a child started by a parent holding 20,000
    articles reported their memory as its own (177 MiB where ``VmHWM`` says 56)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: Path, algorithm: str) -> dict[str, Any]:
    """Cluster the prepared input with one algorithm; what the parent prints."""
    data = np.load(path)
    m = int(data["earlier"])
    sigs, kinds, ids = data["sigs"], data["kinds"], [str(a) for a in data["ids"]]
    earlier_clusters = [str(c) for c in data["clusters"]]
    run = old_cluster_arrays if algorithm == "old" else neardup.cluster_arrays
    before = _status("VmRSS")
    start = time.perf_counter()
    try:
        result = run(ids[m:], sigs[m:], ids[:m], earlier_clusters, sigs[:m])
    except MemoryError as exc:
        return {"failed": f"MemoryError: {exc}",
                "seconds": round(time.perf_counter() - start, 1),
                "peak_mib": _status("VmHWM") // 1024}
    seconds = time.perf_counter() - start
    peak = _status("VmHWM") // 1024  # before the checks below
    kind_of = dict(zip(ids, kinds.tolist(), strict=True))
    members: dict[str, set[int]] = {}
    for a, c in result.items():
        members.setdefault(c, set()).add(kind_of[a])
    digest = hashlib.sha256(json.dumps(sorted(result.items())).encode()).hexdigest()[:16]
    return {"seconds": round(seconds, 2), "before_mib": before // 1024, "peak_mib": peak,
            "clusters": len(members), "templates": len(set(kinds[m:].tolist())),
            "pure": all(len(k) == 1 for k in members.values()), "digest": digest}


def measure(path: Path, algorithm: str, limit_gb: float, timeout: float) -> dict[str, Any]:
    """``child`` in a fresh process whose address space is capped at ``limit_gb``."""
    limit = int(limit_gb * (1 << 30))

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "bench.neardup_memory", "--child", str(path),
                               "--algorithm", algorithm], capture_output=True, text=True,
                              timeout=timeout, preexec_fn=cap, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"failed": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"failed": (done.stderr.strip().splitlines() or ["exit code"])[-1][:120]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _row(label: str, algorithm: str, r: dict[str, Any]) -> str:
    if "failed" in r:
        spent = f"{r['seconds']:8.2f} s  {r['peak_mib']:6d} MiB peak  " if "seconds" in r else ""
        return f"{label:>16}  {algorithm:>3}  {spent}failed ({r['failed']})"
    return (f"{label:>16}  {algorithm:>3}  {r['seconds']:8.2f} s  {r['peak_mib']:6d} MiB peak "
            f"({r['before_mib']:4d} before)  {r['clusters']:6d} clusters of "
            f"{r['templates']} templates  pure={r['pure']}")


def pipeline_run(n: int, seed: int) -> None:
    """The whole batch: ``n`` template articles as reference-format dumps of one landing day,
    through ``newsetl run`` with NER off; wall time, peak RSS of its largest process, and the
    clusters found against the templates used."""
    import time

    import duckdb

    from bench.record_memory import peak

    texts, kinds = articles(n, seed)
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "landing" / "2023-02-01"
        day.mkdir(parents=True)
        for i, text in enumerate(texts):
            (day / f"{i:06d}_{i:016x}.txt").write_text(f" date 2023-01 Meldung {i}.\n\n{text}",
                                                        encoding="utf-8")
        started = time.perf_counter()
        rss = peak(day.parent, day.name, Path(tmp) / "wh")
        wall = time.perf_counter() - started
        con = duckdb.connect(str(Path(tmp) / "wh" / "news.duckdb"), read_only=True)
        rows = con.execute("SELECT sequence, duplicate_cluster_id FROM articles").fetchall()
        con.close()
    by_cluster: dict[str, set[int]] = {}
    for sequence, cluster in rows:
        by_cluster.setdefault(cluster, set()).add(int(kinds[sequence]))
    mixed = sum(1 for templates in by_cluster.values() if len(templates) > 1)
    print(f"newsetl run, {n:,} template articles (NER off): {wall:.1f} s, peak RSS "
          f"{rss / 1024:.0f} MiB; {len(rows):,} loaded in {len(by_cluster)} clusters "
          f"({len(set(kinds.tolist()))} templates used; clusters mixing templates: {mixed})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[4000, 8000, 20000],
                        help="batch sizes (new articles, no earlier batch)")
    parser.add_argument("--earlier", type=int, default=20000,
                        help="earlier articles of the cross-batch run (0: no such run)")
    parser.add_argument("--new", type=int, default=2000, help="new articles of that run")
    parser.add_argument("--algorithm", choices=("both", "old", "new"), default="both")
    parser.add_argument("--limit-gb", type=float, default=6.0, help="RLIMIT_AS of each run")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pipeline", type=int, default=0,
                        help="instead: newsetl run (NER off) on this many template dumps")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.algorithm)))
        return
    if args.pipeline:
        pipeline_run(args.pipeline, args.seed)
        return
    algorithms = ("old", "new") if args.algorithm == "both" else (args.algorithm,)
    runs = [(f"n={n:,}", n, 0) for n in args.n]
    if args.earlier:
        runs.append((f"{args.earlier:,}+{args.new:,}", args.new, args.earlier))
    print(f"{'input':>16}  alg      wall        peak RSS               result")
    with tempfile.TemporaryDirectory() as tmp:
        for label, n, earlier in runs:
            path = Path(tmp) / f"{n}-{earlier}.npz"
            prepare(path, n, earlier, args.seed)
            results = {a: measure(path, a, args.limit_gb, args.timeout) for a in algorithms}
            for a, r in results.items():
                print(_row(label, a, r), flush=True)
            if len(results) == 2 and all("digest" in r for r in results.values()):
                same = results["old"]["digest"] == results["new"]["digest"]
                print(f"{'':>16}  new == old: {same}", flush=True)


if __name__ == "__main__":
    main()
