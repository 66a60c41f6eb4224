"""The report page as HTML: escaping, tables, the page's sections and its stylesheet.

Kept apart from the queries and the charts so that the page's markup can change without touching
either. Everything interpolated into the page goes through ``_esc`` unless it is a ``Markup``
(HTML built here from escaped parts) or an SVG from ``pipeline.report.charts``; the page has no
script and loads nothing from elsewhere.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipeline.report import rollup
from pipeline.report.charts import (
    _chart_style,
    chart_batches,
    chart_entity,
    chart_places,
    chart_published,
)
from pipeline.report.data import ReportData

TOP_SOURCES = 20
PIVOT_MAX_BATCHES = 10
"""Up to this many batches the quality checks are a check x batch grid; beyond, a summary."""
CHECK_ORDER = ("empty_body_share", "unparseable_date_share", "dates_outside_interval",
               "language_shift", "volume_ratio_low", "volume_ratio_high", "duplicate_rate",
               "entity_coverage")
STATUSES = ("fail", "overridden", "skipped", "pass")


@dataclass(frozen=True)
class Markup:
    """HTML that is already safe (built here from escaped parts)."""

    html: str


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object) -> tuple[str, bool]:
    """A cell's HTML and whether it is a number (right-aligned)."""
    if isinstance(value, Markup):
        return value.html, False
    if value is None:
        return '<span class="muted">–</span>', False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float):
        return _esc(_float(value)), True
    if isinstance(value, datetime):
        return _esc(value.strftime("%Y-%m-%d %H:%M")), False
    if isinstance(value, date):
        return _esc(value.isoformat()), False
    return _esc(value), False


def _float(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def _table(table_id: str, columns: Sequence[str], rows: Iterable[Sequence[object]],
           foot: Sequence[object] | None = None, numeric: Sequence[bool] | None = None,
           row_classes: Sequence[str] | None = None) -> str:
    """A table; numeric columns (detected from the cells, or given) are right-aligned."""
    body = [list(r) for r in rows]
    cells = [[_fmt(v) for v in r] for r in body]
    if numeric is None:
        numeric = [bool(cells) and all(c[i][1] or body[j][i] is None for j, c in enumerate(cells))
                   for i in range(len(columns))]
    num = ["num" if n else "" for n in numeric]

    def cls(i: int) -> str:
        return f' class="{num[i]}"' if num[i] else ""

    out = [f'<table id="{_esc(table_id)}">', "<thead><tr>"]
    out += [f'<th scope="col"{cls(i)}>{_esc(c)}</th>' for i, c in enumerate(columns)]
    out.append("</tr></thead><tbody>")
    for j, row in enumerate(cells):
        rc = row_classes[j] if row_classes else ""
        out.append(f'<tr class="{rc}">' if rc else "<tr>")
        for i, (text, _) in enumerate(row):
            tag = "th" if i == 0 else "td"
            scope = ' scope="row"' if i == 0 else ""
            out.append(f"<{tag}{scope}{cls(i)}>{text}</{tag}>")
        out.append("</tr>")
    out.append("</tbody>")
    if foot is not None:
        out.append("<tfoot><tr>")
        for i, value in enumerate(foot):
            tag = "th" if i == 0 else "td"
            out.append(f"<{tag}{cls(i)}>{'' if value is None else _fmt(value)[0]}</{tag}>")
        out.append("</tr></tfoot>")
    out.append("</table>")
    return "".join(out)


def _badge(status: str, title: str | None = None) -> str:
    tip = f' title="{_esc(title)}"' if title else ""
    return f'<span class="badge st-{_esc(status)}"{tip}>{_esc(status)}</span>'


def _figure_html(svg: str, caption: str, figure_id: str) -> str:
    return (f'<figure id="{figure_id}">{svg}<figcaption>{caption}</figcaption></figure>')


_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #4c72b0; }
* { box-sizing: border-box; }
html { background: #fff; }
body { margin: 0; color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 48px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; }
.eyebrow { margin: 0; color: var(--accent); font-size: 13px; font-weight: 600;
  letter-spacing: .06em; text-transform: uppercase; }
h1 { font-size: 28px; line-height: 1.25; margin: 4px 0 10px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 0;
  font-size: 14px; color: var(--muted); }
.meta dt { font-weight: 600; color: var(--fg); }
.meta dd { margin: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 88%; overflow-wrap: anywhere; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px;
  margin: 20px 0 4px; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  background: var(--soft); }
.kpi-value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.kpi-label { font-size: 13px; color: var(--muted); }
.kpi.warn { border-color: #e6a4a4; background: #fff5f5; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 14px; }
th, td { padding: 5px 10px; text-align: left; vertical-align: top;
  border-bottom: 1px solid var(--line); }
thead th { background: var(--soft); font-weight: 600; white-space: nowrap;
  border-bottom: 2px solid var(--line); }
tbody th { font-weight: 500; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot th, tfoot td { font-weight: 650; border-top: 2px solid var(--line); border-bottom: 0; }
tr.bad > * { background: #fff0f0; }
.grid2 { display: grid; grid-template-columns: 3fr 2fr; gap: 28px; align-items: start; }
@media (max-width: 820px) { .grid2 { grid-template-columns: 1fr; } }
figure { margin: 18px 0 8px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 2px; }
figcaption b { color: var(--fg); }
.badge { display: inline-block; min-width: 64px; padding: 0 8px; border-radius: 10px;
  font-size: 12px; font-weight: 600; line-height: 20px; text-align: center; }
.st-pass { background: #dafbe1; color: #116329; }
.st-fail { background: #ffebe9; color: #a40e26; }
.st-skipped { background: #eaeef2; color: #57606a; }
.st-overridden { background: #fff8c5; color: #7d4e00; }
.obs { display: inline-block; min-width: 44px; margin-left: 6px; text-align: right;
  font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
.lbl { display: inline-block; min-width: 38px; padding: 0 6px; border-radius: 4px; font-size: 11px;
  font-weight: 700; letter-spacing: .04em; text-align: center; background: var(--soft);
  border: 1px solid var(--line); color: var(--muted); }
.muted, .note { color: var(--muted); }
.note { font-size: 14px; margin: 6px 0; }
.reason { max-width: 460px; }
ul.details { margin: 8px 0; padding-left: 20px; font-size: 14px; }
footer { margin-top: 44px; padding-top: 8px; border-top: 1px solid var(--line); font-size: 12px;
  color: var(--muted); }
@media print { .kpi, figure, table { break-inside: avoid; } main { padding: 0; } }
"""


def _title(data: ReportData) -> str:
    if data.start == data.end:
        return f"Batch {data.start}"
    return f"Batches {data.start} – {data.end}"


def _missing_days(data: ReportData) -> list[date]:
    have = {b.batch_date for b in data.batches}
    days = (data.end - data.start).days + 1
    return [d for d in (data.start + timedelta(days=i) for i in range(days)) if d not in have]


def _kpi(key: str, value: int, label: str, warn: bool = False) -> str:
    cls = "kpi warn" if warn else "kpi"
    return (f'<div class="{cls}" id="kpi-{key}"><div class="kpi-value">{value:,}</div>'
            f'<div class="kpi-label">{_esc(label)}</div></div>')


def render(data: ReportData, generated_at: datetime) -> str:
    """The report page."""
    with _chart_style():
        batches_svg = chart_batches(data)
        published = chart_published(data)
        entity_chart = (chart_entity(data.entity, data.start, data.end)
                        if data.entity is not None else None)
        map_svg = chart_places(data.places)
    read = sum(b.records_read for b in data.batches)
    loaded = sum(b.articles_loaded for b in data.batches)
    rejected = sum(b.records_rejected for b in data.batches)
    found = sum(b.entities_found for b in data.batches)
    files = sum(b.input_files for b in data.batches)
    title = _title(data)
    missing = _missing_days(data)
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>news-etl report: {_esc(title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<header>",
        '<p class="eyebrow">news-etl batch report</p>',
        f"<h1>{_esc(title)}</h1>",
        '<dl class="meta">',
        f"<dt>Warehouse</dt><dd><code>{_esc(data.warehouse.resolve())}</code></dd>",
        f"<dt>Batches</dt><dd>{len(data.batches)} published"
        + (f" for {(data.end - data.start).days + 1} days" if data.start != data.end else "")
        + (f"; no batch on {_esc(_day_list(missing))}" if missing else "") + "</dd>",
        f"<dt>Generated</dt><dd>{_esc(generated_at.strftime('%Y-%m-%d %H:%M %Z').strip())}</dd>",
        "</dl></header>",
        '<section class="kpis" id="summary">',
        _kpi("records-read", read, "records read"),
        _kpi("articles-loaded", loaded, "articles loaded"),
        _kpi("records-rejected", rejected, "records rejected", warn=rejected > 0),
        _kpi("entities-found", found, "entity mentions"),
        _kpi("sources", len(data.sources), "sources"),
        _kpi("languages", len(data.languages), "languages"),
        "</section>",
    ]
    out += _section_batches(data, files, read, loaded, rejected, found, batches_svg)
    out += _section_rejects(data, rejected)
    out += _section_sources(data, loaded, published)
    out += _section_entities(data, entity_chart)
    out += _section_places(data, map_svg)
    out += _section_checks(data)
    out += [
        "<footer>Made by <code>newsetl report</code> from the catalog "
        f"<code>{_esc((data.warehouse / 'news.duckdb').resolve())}</code>: current run of each "
        "batch only. Self-contained: no scripts, styles, fonts or images from elsewhere."
        "</footer>",
        "</main></body></html>",
    ]
    return "\n".join(out) + "\n"


def _day_list(days: Sequence[date], limit: int = 8) -> str:
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return shown + (f" and {len(days) - limit} more" if len(days) > limit else "")


def _section_batches(data: ReportData, files: int, read: int, loaded: int, rejected: int,
                     found: int, svg: str) -> list[str]:
    rows = [(b.batch_date, Markup(f"<code>{_esc(b.run_id)}</code>"), b.input_files,
             b.records_read, b.articles_loaded, b.records_rejected, b.entities_found,
             Markup("✓" if b.reconciles else '<b class="bad">✗ does not add up</b>'))
            for b in data.batches]
    numeric = [False, False, True, True, True, True, True, False]
    full = _table("batch-table", ["batch", "run", "files", "read", "loaded", "rejected",
                                  "entities", "reconciles"], rows,
                  foot=["total", None, files, read, loaded, rejected, found, None],
                  numeric=numeric,
                  row_classes=["" if b.reconciles else "bad" for b in data.batches])
    figure = _figure_html(svg, "<b>Records per batch</b>: articles loaded, by language, and "
                          "records rejected; the figure above each bar is the records read.",
                          "chart-batches")
    note = ('<p class="note">Per batch, its current run: records read = articles loaded + '
            "records rejected.</p>")
    if len(data.batches) <= rollup.ROLLUP_MIN_BATCHES:
        return ['<section id="batches"><h2>Records in and out</h2>', note, full, figure,
                "</section>"]
    # A range: the chart and the roll-up lead, the exceptions next, every batch folded away.
    return ['<section id="batches"><h2>Records in and out</h2>', figure,
            *_rollup(data), *_exceptions(data),
            f'<details id="batch-details"><summary>All {len(data.batches)} batches</summary>',
            note, full, "</details>", "</section>"]


def _rollup(data: ReportData) -> list[str]:
    unit, rows = rollup.periods(data)
    return [f"<h3>Per {unit}</h3>",
            _table("batch-rollup", [unit, "batches", "files", "read", "loaded", "rejected",
                                    "entities", "not adding up"], rows,
                   numeric=[False, True, True, True, True, True, True, True])]


def _exceptions(data: ReportData) -> list[str]:
    found = rollup.exceptions(data)
    if not found:
        return ['<p class="note" id="batch-exceptions">No batch stands out: every one adds '
                "up, passed its checks, loaded within half to twice the median and rejected "
                "nothing.</p>"]
    rows = [(b.batch_date, b.records_read, b.articles_loaded, b.records_rejected, why)
            for b, why in found[:rollup.MAX_EXCEPTIONS]]
    more = len(found) - len(rows)
    return ["<h3>Exceptions</h3>",
            _table("batch-exceptions", ["batch", "read", "loaded", "rejected", "why"], rows,
                   numeric=[False, True, True, True, False]),
            *([f'<p class="note">and {more} more batches with rejected records (all batches '
               "below).</p>"] if more else [])]


def _section_places(data: ReportData, svg: str | None) -> list[str]:
    out = ['<section id="places"><h2>Places</h2>']
    if svg is None:
        return [*out, '<p class="note">No place was resolved in these batches.</p>',
                "</section>"]
    rows = [(Markup(f"<code>{_esc(c.country_code)}</code>"), c.name, c.mentions, c.articles)
            for c in data.countries[:TOP_SOURCES]]
    return [*out, _figure_html(svg, "<b>Places mentioned</b> (LOC entities resolved offline), "
                               "an area per mention, over Natural Earth's relief.", "chart-map"),
            '<p class="note">Countries, counting the mentions of places in them.</p>',
            _table("country-table", ["country", "name", "mentions", "articles"], rows,
                   numeric=[False, False, True, True]), "</section>"]


def _section_rejects(data: ReportData, rejected: int) -> list[str]:
    out = ['<section id="rejects"><h2>Rejected records</h2>']
    if not data.rejects:
        out += ['<p class="note">No record was rejected in these batches.</p>', "</section>"]
        return out
    rows = []
    for r in data.rejects:
        reason = r.reason if len(r.reason) <= 220 else r.reason[:219] + "…"
        rows.append((Markup(f"<code>{_esc(r.reason_code)}</code>"), r.records,
                     _pct(r.records, rejected), _day_list(r.batches, 4),
                     Markup(f'<div class="reason" title="{_esc(r.reason)}">{_esc(reason)}</div>'
                            f'<div class="muted"><code>{_esc(r.example)}</code></div>')))
    out += ['<p class="note">By reason code, with the first example (every rejected record '
            "is in the <code>rejects</code> view with its file and locator).</p>",
            _table("reject-table", ["reason code", "records", "share", "batches",
                                    "example reason and record"], rows,
                   foot=["total", rejected, None, None, None],
                   numeric=[False, True, True, False, False]),
            "</section>"]
    return out


def _section_sources(data: ReportData, loaded: int,
                     published: tuple[str, str] | None) -> list[str]:
    src = data.sources[:TOP_SOURCES]
    rows: list[tuple[object, ...]] = [(s.source, s.articles, _pct(s.articles, loaded),
                                       s.distinct_articles, s.languages) for s in src]
    more = data.sources[TOP_SOURCES:]
    if more:
        rows.append((Markup(f'<span class="muted">{len(more)} more sources</span>'),
                     sum(s.articles for s in more), _pct(sum(s.articles for s in more), loaded),
                     sum(s.distinct_articles for s in more), None))
    langs = [(Markup(f"<code>{_esc(lang.language)}</code>"), lang.articles,
              _pct(lang.articles, loaded), lang.sources) for lang in data.languages]
    undated = sum(n for d, _, n in data.published if d is None)
    coarse = sum(n for d, p, n in data.published if d is not None and p != "day")
    out = ['<section id="sources"><h2>Articles per source and language</h2>',
           '<div class="grid2"><div><h3>Sources</h3>',
           _table("source-table", ["source", "articles", "share", "distinct", "languages"],
                  rows, foot=["total", loaded, None, None, None],
                  numeric=[False, True, True, True, False]),
           '<p class="note">source = the outlet\'s domain, else its site name; '
           "<i>distinct</i> counts an article re-delivered in several batches once.</p>",
           "</div><div><h3>Languages</h3>",
           _table("language-table", ["language", "articles", "share", "sources"], langs,
                  foot=["total", loaded, None, None], numeric=[False, True, True, True]),
           "</div></div>"]
    if published is None:
        out.append('<p class="note">No article of these batches has a publication date.</p>')
    else:
        svg, unit = published
        notes = []
        if coarse:
            notes.append(f"{coarse:,} dated only to a month or year")
        if undated:
            notes.append(f"{undated:,} without a publication date are not shown")
        extra = f" ({'; '.join(notes)})" if notes else ""
        out.append(_figure_html(
            svg, f"<b>Articles per publication {unit}</b> (<code>articles.published_day</code>) "
            f"of the batches in the range; the shaded band marks the batch dates{_esc(extra)}.",
            "chart-published"))
    out.append("</section>")
    return out


def _section_entities(data: ReportData, chart: tuple[str, str] | None) -> list[str]:
    out = ['<section id="entities"><h2>Top entities</h2>']
    if not data.entities:
        out += ['<p class="note">No entities were found in these batches.</p>']
    else:
        rows = [(i, Markup(f'<span class="lbl">{_esc(e.label)}</span>'), e.norm, e.mentions,
                 e.articles, e.batches) for i, e in enumerate(data.entities, 1)]
        out += [f'<p class="note">The {len(data.entities)} most mentioned of '
                f"{data.distinct_entities:,} distinct entities (label and normalised name) in "
                "these batches; an article delivered in two batches counts in both.</p>",
                _table("entity-table", ["#", "label", "entity", "mentions", "articles",
                                        "batches"], rows,
                       numeric=[True, False, False, True, True, True])]
    series = data.entity
    if series is not None:
        how = "chosen with <code>--entity</code>" if series.chosen else \
            "the most mentioned entity of the range"
        labels = ", ".join(series.labels)
        if chart is None:
            out.append(f'<p class="note" id="chart-entity">{_esc(series.norm)} ({how}) has no '
                       "mention in an article with a publication date.</p>")
        else:
            svg, unit = chart
            total = sum(n for _, _, n in series.points)
            out.append(_figure_html(
                svg, f"<b>Mentions of {_esc(series.norm)}</b> ({_esc(labels)}; {how}) per "
                f"publication {unit} over the whole warehouse "
                "(<code>entity_mentions_daily</code>): "
                f"{total:,} mentions in dated articles, each article counted once however many "
                "batches delivered it (the table counts every delivery: "
                f"{series.mentions_in_range:,} in this range). Shaded: the batch dates.",
                "chart-entity"))
    out.append("</section>")
    return out


def _check_order(names: Iterable[str]) -> list[str]:
    known = [c for c in CHECK_ORDER if c in set(names)]
    return known + sorted(set(names) - set(CHECK_ORDER))


def _section_checks(data: ReportData) -> list[str]:
    out = ['<section id="quality"><h2>Quality checks</h2>']
    if not data.checks:
        out += ['<p class="note">No quality checks were recorded for these runs (gate off).</p>',
                "</section>"]
        return out
    counts = Counter(c.status for c in data.checks)
    out.append('<p class="note" id="check-summary">'
               + ", ".join(f"{counts[s]} {_esc(s)}" for s in STATUSES if counts[s])
               + f" across {len(data.batches)} run(s). Before publishing, a run must pass every "
               "check (skipped: too little history; overridden: failed, let through by an "
               "operator).</p>")
    names = _check_order({c.check for c in data.checks})
    by = {(c.check, c.batch_date): c for c in data.checks}
    dates = [b.batch_date for b in data.batches]
    if len(dates) <= PIVOT_MAX_BATCHES:
        rows = []
        for name in names:
            thresholds = {c.threshold for c in data.checks if c.check == name}
            cells: list[object] = [Markup(f"<code>{_esc(name)}</code>")]
            cells.append(thresholds.pop() if len(thresholds) == 1 else None)
            for day in dates:
                c = by.get((name, day))
                if c is None:
                    cells.append(None)
                    continue
                obs = "" if c.observed is None else _float(c.observed)
                cells.append(Markup(f"{_badge(c.status, c.detail)}"
                                    f'<span class="obs">{_esc(obs)}</span>'))
            rows.append(cells)
        out.append(_table("check-table", ["check", "threshold", *(d.isoformat() for d in dates)],
                          rows, numeric=[False, True, *([False] * len(dates))]))
        out.append('<p class="note">Each cell: status and observed value (hover for the '
                   "figures behind it).</p>")
    else:
        rows = [[Markup(f"<code>{_esc(name)}</code>"),
                 *(sum(1 for c in data.checks if c.check == name and c.status == s)
                   for s in STATUSES)] for name in names]
        out.append(_table("check-table", ["check", *STATUSES], rows,
                          numeric=[False, True, True, True, True]))
    notable = [c for c in data.checks if c.status in ("fail", "overridden")]
    if notable:
        out.append('<ul class="details">')
        out += [f"<li>{c.batch_date}: {_badge(c.status)} <code>{_esc(c.check)}</code> "
                f"{_esc(c.detail)}</li>" for c in notable]
        out.append("</ul>")
    out.append("</section>")
    return out
