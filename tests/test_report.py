"""`newsetl report`: the HTML report of the demo warehouse, rendered by headless Chromium.

The expected figures are counted here from the warehouse's Parquet files (not through the catalog
views the report queries) and looked up in the page as Chromium renders it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from lxml import html as lxml_html

from pipeline.cli import main
from pipeline.report import ReportError, build_report, default_output
from pipeline.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
START, END = date(2023, 1, 31), date(2023, 2, 3)
GENERATED = datetime(2024, 5, 6, 7, 8, tzinfo=UTC)
EXTERNAL = re.compile(r"""\b(?:src|href|xlink:href|srcset|action|poster|data)\s*=\s*["']?\s*"""
                      r"""(?:https?:)?//""", re.I)


def rows_of(settings: Settings, table: str) -> list[dict[str, Any]]:
    """Every row of a published table, read from its Parquet files (batch_date from the path)."""
    data = ds.dataset(settings.warehouse / table, format="parquet", partitioning="hive")
    out = data.to_table().to_pylist()
    for row in out:
        if isinstance(row["batch_date"], str):
            row["batch_date"] = date.fromisoformat(row["batch_date"])
    return out


@dataclass(frozen=True)
class Facts:
    runs: dict[date, dict[str, Any]]
    loaded_rows: Counter[date]
    rejected_rows: Counter[date]
    reject_codes: Counter[str]
    languages: Counter[str]
    top_entities: set[str]
    top_mentions: int
    checks: Counter[str]


def facts_for(settings: Settings, start: date, end: date) -> Facts:
    def in_range(row: dict[str, Any]) -> bool:
        return bool(start <= row["batch_date"] <= end)

    runs = {r["batch_date"]: r for r in rows_of(settings, "runs") if r["is_current"] and
            in_range(r)}
    current = {r["run_id"] for r in runs.values()}
    articles = [a for a in rows_of(settings, "articles") if in_range(a)]
    rejects = [r for r in rows_of(settings, "rejects") if in_range(r) and r["run_id"] in current]
    mentions = Counter((e["label"], e["norm"] or e["text"])
                       for e in rows_of(settings, "entities") if in_range(e))
    top = max(mentions.values())
    checks = [c for c in rows_of(settings, "quality_checks")
              if in_range(c) and c["run_id"] in current]
    return Facts(
        runs=runs,
        loaded_rows=Counter(a["batch_date"] for a in articles),
        rejected_rows=Counter(r["batch_date"] for r in rejects),
        reject_codes=Counter(r["reason_code"] for r in rejects),
        languages=Counter(a["language"] or "?" for a in articles),
        top_entities={norm for (_, norm), n in mentions.items() if n == top},
        top_mentions=top,
        checks=Counter(c["status"] for c in checks),
    )


def number(text: str) -> int:
    return int(text.replace(",", "").strip())


def table(doc: Any, table_id: str, part: str = "tbody") -> list[list[str]]:
    (element,) = doc.xpath(f'//table[@id="{table_id}"]')
    return [[" ".join(cell.text_content().split()) for cell in tr.xpath("./th|./td")]
            for tr in element.xpath(f"./{part}/tr")]


def text_of(doc: Any, element_id: str) -> str:
    (element,) = doc.xpath(f'//*[@id="{element_id}"]')
    return " ".join(element.text_content().split())


def kpi(doc: Any, key: str) -> int:
    (value,) = doc.xpath(f'//*[@id="kpi-{key}"]/*[@class="kpi-value"]')
    return number(value.text_content())


def chromium() -> str:
    """Debian's chromium; skipped when it is missing (`make chromium` installs it), except in
    CI, which must run this test."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing: run `make chromium` (apt-get install "
                    "chromium) before the tests")
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (`make chromium` installs it as root)")


def run_chromium(binary: str, page: Path, profile: Path, *args: str) -> str:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def facts(demo_warehouse: Settings) -> Facts:
    return facts_for(demo_warehouse, START, END)


@pytest.fixture(scope="module")
def report(demo_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert build_report(demo_warehouse, START, END, None, out, generated_at=GENERATED) == out
    return out


@pytest.fixture(scope="module")
def rendered(report: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The DOM as Chromium renders the report, and a 1200x2000 screenshot of it."""
    binary = chromium()
    work = tmp_path_factory.mktemp("chromium")
    dom = run_chromium(binary, report, work / "profile", "--dump-dom")
    shot = work / "report.png"
    run_chromium(binary, report, work / "profile", f"--screenshot={shot}",
                 "--window-size=1200,2000")
    assert "<svg" in dom
    return lxml_html.document_fromstring(dom), shot


def test_rendered_report_shows_the_batch_figures(rendered: tuple[Any, Path],
                                                 facts: Facts) -> None:
    doc, _ = rendered
    assert text_of(doc, "batches").startswith("Records in and out")
    assert "2023-01-31 – 2023-02-03" in doc.xpath("//h1")[0].text_content()
    batches = table(doc, "batch-table")
    assert [row[0] for row in batches] == [d.isoformat() for d in sorted(facts.runs)]
    for row in batches:
        run = facts.runs[date.fromisoformat(row[0])]
        batch = run["batch_date"]
        _, run_id, files, read, loaded, rejected, entities, reconciles = row
        assert run_id == run["run_id"]
        assert number(files) == run["input_files"]
        assert number(read) == run["records_read"]
        # loaded and rejected as the Parquet rows count them, not only as the run says
        assert number(loaded) == run["articles_loaded"] == facts.loaded_rows[batch]
        assert number(rejected) == run["records_rejected"] == facts.rejected_rows[batch]
        assert number(entities) == run["entities_found"]
        assert reconciles == "✓"
    (total,) = table(doc, "batch-table", "tfoot")
    read = sum(r["records_read"] for r in facts.runs.values())
    assert number(total[3]) == read == kpi(doc, "records-read")
    assert number(total[4]) == sum(facts.loaded_rows.values()) == kpi(doc, "articles-loaded")
    assert number(total[5]) == sum(facts.rejected_rows.values()) == kpi(doc, "records-rejected")
    assert number(total[5]) > 0


def test_rendered_report_shows_rejects_sources_entities_checks(rendered: tuple[Any, Path],
                                                               facts: Facts) -> None:
    doc, _ = rendered
    rejects = {row[0]: number(row[1]) for row in table(doc, "reject-table")}
    assert rejects == dict(facts.reject_codes)
    assert "empty_file" in rejects  # day 2's empty file
    languages = {row[0]: number(row[1]) for row in table(doc, "language-table")}
    assert languages == dict(facts.languages)
    sources = table(doc, "source-table")
    assert sum(number(row[1]) for row in sources) == sum(facts.loaded_rows.values())
    first = table(doc, "entity-table")[0]
    assert first[2] in facts.top_entities and number(first[3]) == facts.top_mentions
    caption = text_of(doc, "chart-entity")
    assert f"Mentions of {first[2]}" in caption
    summary = text_of(doc, "check-summary")
    for status, n in facts.checks.items():
        assert f"{n} {status}" in summary
    statuses = Counter(badge.text_content() for badge in
                       doc.xpath('//table[@id="check-table"]//span[contains(@class, "badge")]'))
    assert statuses == facts.checks
    for figure in ("chart-batches", "chart-published", "chart-entity"):
        assert doc.xpath(f'//figure[@id="{figure}"]//*[local-name()="svg"]'), figure


def test_report_is_self_contained(rendered: tuple[Any, Path], report: Path) -> None:
    doc, _ = rendered
    source = report.read_text(encoding="utf-8")
    dom = lxml_html.tostring(doc, encoding="unicode")
    for text in (source, dom):
        assert not EXTERNAL.search(text), EXTERNAL.search(text)
        assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text, re.I)
    assert not doc.xpath("//script | //link | //img | //iframe | //object | //embed")
    assert source.count("<svg") == 4 and "<?xml" not in source and "<!DOCTYPE svg" not in source
    ids = re.findall(r'\bid="([^"]+)"', source)
    assert len(ids) == len(set(ids)), "ids of inlined charts clash"


def test_screenshot_shows_the_charts(rendered: tuple[Any, Path]) -> None:
    from PIL import Image

    _, shot = rendered
    with Image.open(shot) as image:
        assert image.size == (1200, 2000)
        pixels = {colour: n for n, colour in image.convert("RGB").getcolors(1200 * 2000)}
    white = pixels[(255, 255, 255)]
    assert white < 0.97 * 1200 * 2000, "page looks blank"
    # the batch chart's bars (first language colour, #4c72b0) are in the first screen
    bars = sum(n for (r, g, b), n in pixels.items()
               if abs(r - 0x4C) < 8 and abs(g - 0x72) < 8 and abs(b - 0xB0) < 8)
    assert bars > 2000


def test_report_is_deterministic(demo_warehouse: Settings, report: Path, tmp_path: Path) -> None:
    again = build_report(demo_warehouse, START, END, None, tmp_path / "again.html",
                         generated_at=GENERATED)
    assert again.read_bytes() == report.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["again.html"]  # no temporary file left


def test_one_batch_with_a_chosen_entity(demo_warehouse: Settings, tmp_path: Path) -> None:
    day = date(2023, 2, 1)
    expected = facts_for(demo_warehouse, day, day)
    names = Counter(e["norm"] or e["text"] for e in rows_of(demo_warehouse, "entities"))
    folded = Counter(n.casefold() for n in names)
    # a name of several mentions, the only one of its spelling ignoring case, asked upper-case
    entity = sorted(n for n in names if names[n] > 1 and folded[n.casefold()] == 1
                    and n.upper().casefold() == n.casefold())[0]
    out = build_report(demo_warehouse, day, day, entity.upper(), tmp_path / "one.html")
    doc = lxml_html.document_fromstring(out.read_text(encoding="utf-8"))
    ((batch, _, _, read, loaded, rejected, *_),) = table(doc, "batch-table")
    run = expected.runs[day]
    assert (batch, number(read), number(loaded), number(rejected)) == \
        (day.isoformat(), run["records_read"], run["articles_loaded"], run["records_rejected"])
    assert {row[0] for row in table(doc, "reject-table")} == set(expected.reject_codes)
    assert doc.xpath("//h1")[0].text_content() == f"Batch {day}"
    caption = text_of(doc, "chart-entity")
    assert "chosen with --entity" in caption and entity in caption  # found ignoring case


def test_empty_range_and_unknown_entity_fail_clearly(demo_warehouse: Settings,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "none.html"
    with pytest.raises(ReportError, match="no published batch between 2022-12-01 and 2022-12-31"):
        build_report(demo_warehouse, date(2022, 12, 1), date(2022, 12, 31), None, out)
    with pytest.raises(ReportError, match="'Atlantis' is not in the warehouse"):
        build_report(demo_warehouse, START, END, "Atlantis", out)
    with pytest.raises(ReportError, match="ends"):
        build_report(demo_warehouse, END, START, None, out)
    assert not out.exists() and not list(tmp_path.iterdir())
    result = CliRunner().invoke(main, ["report", "--warehouse", str(demo_warehouse.warehouse),
                                       "--date", "2030-01-01", "--output", str(out)])
    assert result.exit_code == 1
    assert "no published batch between 2030-01-01 and 2030-01-01" in result.output


def test_cli_writes_the_report_and_prints_its_path(demo_warehouse: Settings,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.html"
    result = CliRunner().invoke(main, ["report", "--warehouse", str(demo_warehouse.warehouse),
                                       "--date", "2023-02-02", "--to", "2023-02-03",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    doc = lxml_html.document_fromstring(out.read_text(encoding="utf-8"))
    assert [row[0] for row in table(doc, "batch-table")] == ["2023-02-02", "2023-02-03"]
    assert default_output(demo_warehouse, START, END) == \
        demo_warehouse.warehouse / "reports" / "report-2023-01-31_2023-02-03.html"
    assert default_output(demo_warehouse, START, START).name == "report-2023-01-31.html"


def test_chromium_is_where_the_makefile_puts_it() -> None:
    """`make test` depends on `make chromium`, which installs Debian's package at this path."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:.*\bchromium\b", makefile, re.M)
    assert str(CHROMIUM) in makefile


@pytest.fixture(scope="module")
def range_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """20 daily batches of a few text dumps: one with an empty file (a reject), one with five
    times the usual volume."""
    import random
    from datetime import timedelta

    from pipeline import stages
    from pipeline.ingest import readers
    from tests.test_archive_index import body

    root = tmp_path_factory.mktemp("range")
    settings = Settings.from_mapping({"warehouse": root / "wh", "quality_gate": False,
                                      "ner_models": {"de": "none", "en": "none"}})
    rng = random.Random(4)
    for i in range(20):
        day = date(2024, 1, 1) + timedelta(days=i)
        landing = root / "landing" / day.isoformat()
        landing.mkdir(parents=True)
        for n in range(15 if i == 8 else 3):
            (landing / f"{n:03d}.txt").write_text(f" date {day}\n\n{body(rng)}\n",
                                                  encoding="utf-8")
        if i == 4:
            (landing / "999_empty.txt").write_text("", encoding="utf-8")
        stages.run_batch(readers.list_input_files(landing), day, settings)
    return settings


def test_a_range_report_leads_with_charts_and_rolls_batches_up(range_warehouse: Settings,
                                                               tmp_path: Path) -> None:
    out = build_report(range_warehouse, date(2024, 1, 1), date(2024, 1, 20), None,
                       tmp_path / "range.html")
    doc = lxml_html.fromstring(out.read_text(encoding="utf-8"))
    order = [e.get("id") for e in doc.xpath("//*[@id]")]
    assert order.index("chart-batches") < order.index("batch-rollup") \
        < order.index("batch-exceptions") < order.index("batch-table")
    assert doc.xpath('//details[@id="batch-details"]//table[@id="batch-table"]')
    weeks = table(doc, "batch-rollup")
    assert [w[0] for w in weeks] == ["week of 2024-01-01", "week of 2024-01-08",
                                     "week of 2024-01-15"]
    assert [number(w[1]) for w in weeks] == [7, 7, 6]
    (total,) = table(doc, "batch-table", "tfoot")
    assert sum(number(w[3]) for w in weeks) == number(total[3])
    exceptions = {row[0]: row[-1] for row in table(doc, "batch-exceptions")}
    assert "rejected" in exceptions["2024-01-05"] and "volume" in exceptions["2024-01-09"]
    assert len(exceptions) == 2


def test_places_show_on_a_map_and_by_country(report: Path, demo_warehouse: Settings) -> None:
    doc = lxml_html.fromstring(report.read_text(encoding="utf-8"))
    assert doc.xpath('//section[@id="places"]//*[@id="chart-map"]//svg')
    counts: Counter[str] = Counter(p["country_code"] for p in rows_of(demo_warehouse, "places")
                                   if p["country_code"] and START <= p["batch_date"] <= END)
    shown = {row[0]: number(row[2]) for row in table(doc, "country-table")}
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:len(shown)]
    assert list(shown.items()) == expected
    assert shown["KR"] >= 10


def test_screenshot_shows_the_map(report: Path, tmp_path: Path) -> None:
    """The whole page in Chromium: the map's basemap (Natural Earth's blue sea) and its country
    markers (#cf222e) are drawn."""
    from PIL import Image

    shot = tmp_path / "page.png"
    run_chromium(chromium(), report, tmp_path / "profile", f"--screenshot={shot}",
                 "--window-size=1200,7000")
    with Image.open(shot) as image:
        pixels = {colour: n for n, colour in image.convert("RGB").getcolors(1200 * 7000)}
    sea = sum(n for (r, g, b), n in pixels.items() if b > 150 and b - r > 40 and g > 120)
    markers = sum(n for (r, g, b), n in pixels.items()
                  if r > 180 and g < 120 and b < 120 and r - g > 90)
    assert sea > 50_000 and markers > 500, (sea, markers)
