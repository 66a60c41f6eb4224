"""``newsetl report``: one batch, or a range of batch dates, as a self-contained HTML page.

The page shows what came in and what went out (records read = articles loaded + records rejected,
per batch), why records were rejected, articles per source and per language, the most mentioned
entities, the quality checks of the runs, and three charts: records per batch, articles per
publication date, and one entity's mentions over the whole warehouse.

Everything is read from the ``news.duckdb`` catalog (read-only, values as bind parameters) and
only the current run of each batch counts. Charts are drawn with matplotlib and inlined as SVG,
so the page is one file that needs no network, script, stylesheet, font or image from elsewhere.
"""

from __future__ import annotations

import html
import io
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LOGGER = logging.getLogger(__name__)

TOP_ENTITIES = 15
TOP_SOURCES = 20
PIVOT_MAX_BATCHES = 10
"""Up to this many batches the quality checks are a check x batch grid; beyond, a summary."""
CHECK_ORDER = ("empty_body_share", "unparseable_date_share", "dates_outside_interval",
               "language_shift", "volume_ratio_low", "volume_ratio_high", "duplicate_rate",
               "entity_coverage")
STATUSES = ("fail", "overridden", "skipped", "pass")

_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
            "#ccb974", "#64b5cd")
_REJECTED = "#c44e52"
_DAY = "#4c72b0"
_COARSE = "#a9c1e3"
_RANGE = "#f2a91c"
_MAX_LANGUAGES_CHARTED = 6


class ReportError(RuntimeError):
    """The report cannot be made (nothing published in the range, unknown entity, ...)."""


@dataclass(frozen=True)
class BatchRun:
    batch_date: date
    run_id: str
    finished_at: datetime | None
    input_files: int
    records_read: int
    articles_loaded: int
    records_rejected: int
    entities_found: int

    @property
    def reconciles(self) -> bool:
        return self.records_read == self.articles_loaded + self.records_rejected


@dataclass(frozen=True)
class RejectReason:
    reason_code: str
    records: int
    batches: list[date]
    reason: str
    example: str


@dataclass(frozen=True)
class SourceRow:
    source: str
    articles: int
    distinct_articles: int
    languages: str


@dataclass(frozen=True)
class LanguageRow:
    language: str
    articles: int
    distinct_articles: int
    sources: int


@dataclass(frozen=True)
class TopEntity:
    label: str
    norm: str
    mentions: int
    articles: int
    batches: int


@dataclass(frozen=True)
class CheckRow:
    batch_date: date
    check: str
    status: str
    observed: float | None
    threshold: float | None
    detail: str


@dataclass(frozen=True)
class EntitySeries:
    norm: str
    labels: list[str]
    mentions_in_range: int
    points: list[tuple[date, str, int]]
    """(publication day, its precision day/month/year, mentions), whole warehouse."""
    chosen: bool
    """Named with --entity (else the range's top entity)."""


@dataclass(frozen=True)
class ReportData:
    start: date
    end: date
    warehouse: Path
    batches: list[BatchRun]
    rejects: list[RejectReason]
    sources: list[SourceRow]
    languages: list[LanguageRow]
    entities: list[TopEntity]
    distinct_entities: int
    checks: list[CheckRow]
    batch_languages: list[tuple[date, str, int]]
    published: list[tuple[date | None, str, int]]
    """(publication day or None when undated, its precision day/month/year, articles)."""
    entity: EntitySeries | None


def default_output(settings: Settings, start: date, end: date) -> Path:
    """``<warehouse>/reports/report-<start>[_<end>].html``."""
    name = f"report-{start.isoformat()}" + (f"_{end.isoformat()}" if end != start else "")
    return settings.warehouse / "reports" / f"{name}.html"


def build_report(settings: Settings, start: date, end: date, entity: str | None, output: Path,
                 *, generated_at: datetime | None = None) -> Path:
    """Write the HTML report of the batches ``start``..``end`` (included) to ``output``.

    ``entity`` (a normalised name, ``entities.norm``) is charted over time; default: the range's
    most mentioned entity. ``generated_at`` (default: now) is printed in the page's footer. The
    file is written beside ``output`` and renamed into place. Raises ReportError when no batch is
    published in the range or the entity is unknown, CatalogError without a catalog.
    """
    from pipeline.catalog import connect

    if end < start:
        raise ReportError(f"the range ends ({end}) before it starts ({start})")
    con = connect(settings)
    try:
        data = collect(con, settings.warehouse, start, end, entity)
    finally:
        con.close()
    page = render(data, generated_at or datetime.now(UTC))
    _write_atomic(output, page)
    LOGGER.info("report of batches %s..%s (%d published) written to %s", start, end,
                len(data.batches), output)
    return output


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- queries --------------------------------------------------------------------------------------

_RUNS = """
SELECT batch_date, run_id, finished_at, input_files, records_read, articles_loaded,
       records_rejected, entities_found
FROM runs
WHERE is_current AND batch_date BETWEEN ? AND ?
ORDER BY batch_date
"""

_REJECTS = """
SELECT
    reason_code,
    count(*) AS records,
    list(DISTINCT batch_date ORDER BY batch_date) AS batches,
    first(reason ORDER BY batch_date, source_file, locator) AS reason,
    first(batch_date || ': ' || source_file || coalesce(' / ' || member, '')
          || ' (' || locator || ')' ORDER BY batch_date, source_file, locator) AS example
FROM rejects
WHERE batch_date BETWEEN ? AND ?
  AND run_id IN (SELECT run_id FROM runs WHERE is_current)
GROUP BY reason_code
ORDER BY records DESC, reason_code
"""

_SOURCES = """
WITH a AS (
    SELECT coalesce(source, '(unknown)') AS source, coalesce(language, '?') AS language,
           article_id
    FROM articles
    WHERE batch_date BETWEEN ? AND ?
),
per_language AS (
    SELECT source, language, count(*) AS n FROM a GROUP BY source, language
),
language_lists AS (
    SELECT source, string_agg(language || ' ' || n, ', ' ORDER BY n DESC, language) AS languages
    FROM per_language
    GROUP BY source
)
SELECT a.source, count(*) AS articles, count(DISTINCT a.article_id) AS distinct_articles,
       any_value(l.languages) AS languages
FROM a JOIN language_lists AS l USING (source)
GROUP BY a.source
ORDER BY articles DESC, a.source
"""

_LANGUAGES = """
SELECT coalesce(language, '?') AS language, count(*) AS articles,
       count(DISTINCT article_id) AS distinct_articles,
       count(DISTINCT coalesce(source, '(unknown)')) AS sources
FROM articles
WHERE batch_date BETWEEN ? AND ?
GROUP BY 1
ORDER BY articles DESC, language
"""

_TOP_ENTITIES = """
SELECT label, norm, count(*) AS mentions, count(DISTINCT article_id) AS articles,
       count(DISTINCT batch_date) AS batches
FROM entities
WHERE batch_date BETWEEN ? AND ?
GROUP BY label, norm
ORDER BY mentions DESC, articles DESC, norm, label
LIMIT ?
"""

_DISTINCT_ENTITIES = """
SELECT count(*) FROM (SELECT DISTINCT label, norm FROM entities WHERE batch_date BETWEEN ? AND ?)
"""

_CHECKS = """
SELECT batch_date, "check", status, observed, threshold, detail
FROM quality_checks
WHERE batch_date BETWEEN ? AND ?
  AND run_id IN (SELECT run_id FROM runs WHERE is_current)
ORDER BY batch_date, "check"
"""

_BATCH_LANGUAGES = """
SELECT batch_date, coalesce(language, '?') AS language, count(*) AS articles
FROM articles
WHERE batch_date BETWEEN ? AND ?
GROUP BY ALL
ORDER BY ALL
"""

_PUBLISHED = """
SELECT published_day,
       CASE WHEN published_precision IN ('month', 'year') THEN published_precision ELSE 'day'
       END AS day_precision,
       count(*) AS articles
FROM articles
WHERE batch_date BETWEEN ? AND ?
GROUP BY ALL
ORDER BY ALL NULLS LAST
"""

_ENTITY_LABELS = """
SELECT label, count(*) AS mentions FROM entities WHERE norm = ? GROUP BY label
ORDER BY mentions DESC, label
"""

_ENTITY_CASEFOLD = """
SELECT norm, count(*) AS mentions FROM entities WHERE lower(norm) = lower(?)
GROUP BY norm ORDER BY mentions DESC, norm LIMIT 1
"""

_ENTITY_SIMILAR = """
SELECT norm FROM entities WHERE contains(lower(norm), lower(?))
GROUP BY norm ORDER BY count(*) DESC, norm LIMIT 5
"""

_ENTITY_IN_RANGE = "SELECT count(*) FROM entities WHERE norm = ? AND batch_date BETWEEN ? AND ?"

_ENTITY_SERIES = """
SELECT day, day_precision, sum(mentions)::BIGINT AS mentions
FROM entity_mentions_daily
WHERE norm = ?
GROUP BY ALL
ORDER BY ALL
"""


def _rows(con: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql, list(params)).fetchall()
    return rows


def collect(con: Any, warehouse: Path, start: date, end: date,
            entity: str | None) -> ReportData:
    """Everything the report shows, from an open catalog connection."""
    rng = (start, end)
    batches = [BatchRun(*row) for row in _rows(con, _RUNS, rng)]
    if not batches:
        first, last, count = _rows(con, "SELECT min(batch_date), max(batch_date), count(*) "
                                   "FROM runs WHERE is_current", ())[0]
        hint = (f"; it has {count} published batch(es), {first} to {last}" if count
                else "; nothing is published yet")
        raise ReportError(f"no published batch between {start} and {end} in {warehouse}{hint}")
    top = [TopEntity(*row) for row in _rows(con, _TOP_ENTITIES, (*rng, TOP_ENTITIES))]
    distinct = _rows(con, _DISTINCT_ENTITIES, rng)[0][0]
    return ReportData(
        start=start,
        end=end,
        warehouse=warehouse,
        batches=batches,
        rejects=[RejectReason(*row) for row in _rows(con, _REJECTS, rng)],
        sources=[SourceRow(*row) for row in _rows(con, _SOURCES, rng)],
        languages=[LanguageRow(*row) for row in _rows(con, _LANGUAGES, rng)],
        entities=top,
        distinct_entities=int(distinct),
        checks=[CheckRow(*row) for row in _rows(con, _CHECKS, rng)],
        batch_languages=[(d, lang, int(n)) for d, lang, n in _rows(con, _BATCH_LANGUAGES, rng)],
        published=[(d, p, int(n)) for d, p, n in _rows(con, _PUBLISHED, rng)],
        entity=_entity_series(con, entity, top, start, end),
    )


def _entity_series(con: Any, entity: str | None, top: Sequence[TopEntity], start: date,
                   end: date) -> EntitySeries | None:
    if entity is None:
        if not top:
            return None
        norm = top[0].norm
    else:
        norm = entity.strip()
        if not _rows(con, _ENTITY_LABELS, (norm,)):
            match = _rows(con, _ENTITY_CASEFOLD, (norm,))
            if not match:
                similar = [row[0] for row in _rows(con, _ENTITY_SIMILAR, (norm,))]
                hint = f" (did you mean {', '.join(repr(s) for s in similar)}?)" if similar \
                    else ""
                raise ReportError(f"entity {entity!r} is not in the warehouse's entities "
                                  f"(entities.norm){hint}")
            norm = match[0][0]
    labels = [row[0] for row in _rows(con, _ENTITY_LABELS, (norm,))]
    in_range = int(_rows(con, _ENTITY_IN_RANGE, (norm, start, end))[0][0])
    points = [(d, p, int(n)) for d, p, n in _rows(con, _ENTITY_SERIES, (norm,))]
    return EntitySeries(norm, labels, in_range, points, chosen=entity is not None)


# --- charts ---------------------------------------------------------------------------------------


@contextmanager
def _chart_style() -> Iterator[None]:
    """matplotlib settings for every chart; a fixed hash salt keeps the SVG ids reproducible."""
    import matplotlib

    with matplotlib.rc_context({
        "svg.hashsalt": "news-etl-report",
        "svg.fonttype": "path",
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.edgecolor": "#8c959f",
        "axes.titlesize": 11,
        "xtick.color": "#424a53",
        "ytick.color": "#424a53",
        "legend.fontsize": 9,
        "legend.frameon": False,
    }):
        yield


def _figure(height: float) -> Figure:
    """A figure on the Agg canvas (no pyplot, no display, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _svg(fig: Figure, prefix: str, label: str) -> str:
    """The figure as an ``<svg>`` element to inline: no XML prolog, DOCTYPE or metadata, ids
    prefixed so that several charts in one page do not clash."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1).strip()


_UNITS = ("day", "month", "year")
_TICK_STEPS = {"day": (1, 2, 7, 14, 28), "month": (1, 2, 3, 6, 12),
               "year": (1, 2, 5, 10, 20, 50, 100)}
_TICK_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
_MAX_TICKS = 9


def _unit(lo: date, hi: date) -> str:
    """Bucket of a time axis from lo to hi: bars stay wide enough to see."""
    span = (hi - lo).days
    return "day" if span <= 92 else "month" if span <= 4 * 366 else "year"


def _bucket(day: date, unit: str) -> date:
    if unit == "year":
        return date(day.year, 1, 1)
    if unit == "month":
        return date(day.year, day.month, 1)
    return day


def _next_bucket(day: date, unit: str) -> date:
    if unit == "year":
        return date(day.year + 1, 1, 1)
    if unit == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def _x(day: date) -> int:
    """Position on a time axis: days (proleptic Gregorian ordinal)."""
    return day.toordinal()


def _period(day: date, precision: str) -> str:
    return str(day.year) if precision == "year" else day.strftime("%Y-%m")


def _time_ticks(left: date, right: date, unit: str) -> tuple[list[float], list[str]]:
    """At most _MAX_TICKS labelled buckets between left and right, at round steps."""
    buckets = []
    b = left
    while b < right:
        buckets.append(b)
        b = _next_bucket(b, unit)
    step = next((s for s in _TICK_STEPS[unit] if len(buckets) <= s * _MAX_TICKS),
                _TICK_STEPS[unit][-1] * (1 + len(buckets) // (_TICK_STEPS[unit][-1] * _MAX_TICKS)))

    def round_step(b: date, i: int) -> bool:
        if unit == "year":
            return b.year % step == 0
        if unit == "month":
            return (b.month - 1) % step == 0
        return i % step == 0

    chosen = [b for i, b in enumerate(buckets) if round_step(b, i)]
    positions = [(_x(b) + _x(_next_bucket(b, unit))) / 2 for b in chosen]
    return positions, [b.strftime(_TICK_FORMATS[unit]) for b in chosen]


def _time_bars(ax: Axes, points: Mapping[tuple[date, str], int], start: date, end: date,
               what: str) -> str:
    """Counts per day, month or year (whichever keeps the bars visible) on a time axis; the
    batch dates shaded. ``points``: (day, precision day/month/year) -> count. Counts dated to
    the day are solid; those dated only to a month or year are light, stacked on top when the
    axis is as coarse as their period, else a band over the whole period (they fall somewhere
    in it). Returns the unit used."""
    from matplotlib.ticker import MaxNLocator

    rank = {u: i for i, u in enumerate(_UNITS)}
    last_days = [_next_bucket(_bucket(d, p), p) - timedelta(days=1) for d, p in points]
    lo = min([*(d for d, _ in points), start])
    hi = max([*last_days, end])
    unit = _unit(lo, hi)
    exact: Counter[date] = Counter()
    coarse: Counter[date] = Counter()
    bands: Counter[tuple[date, str]] = Counter()
    for (day, precision), n in points.items():
        if precision == "day":
            exact[_bucket(day, unit)] += n
        elif rank[precision] <= rank[unit]:
            coarse[_bucket(day, unit)] += n
        else:
            bands[(_bucket(day, precision), precision)] += n
    coarse_label = "dated to a month/year only"
    for (first, precision), n in sorted(bands.items()):
        following = _next_bucket(first, precision)
        ax.bar(_x(first), n, width=_x(following) - _x(first), align="edge", color=_COARSE,
               alpha=0.55, zorder=1.5, label=coarse_label)
        coarse_label = "_nolegend_"
        ax.annotate(f"{n:,} {what} in {_period(first, precision)}, day unknown",
                    ((_x(first) + _x(following)) / 2, n), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    color="#424a53")
    keys = sorted(set(exact) | set(coarse))
    bottom = dict.fromkeys(keys, 0)
    for label, colour, sums in (("dated to the day", _DAY, exact), (coarse_label, _COARSE, coarse)):
        shown = [k for k in keys if sums.get(k)]
        if not shown:
            continue
        widths = [_x(_next_bucket(k, unit)) - _x(k) for k in shown]
        ax.bar([_x(k) + 0.075 * w for k, w in zip(shown, widths, strict=True)],
               [sums[k] for k in shown], width=[0.85 * w for w in widths],
               bottom=[bottom[k] for k in shown], align="edge", color=colour, label=label,
               zorder=2)
        for k in shown:
            bottom[k] += sums[k]
    left, right = _bucket(lo, unit), _next_bucket(_bucket(hi, unit), unit)
    pad = 0.02 * (_x(right) - _x(left)) + 0.5
    xmin, xmax = _x(left) - pad, _x(right) + pad
    ax.set_xlim(xmin, xmax)
    span = f"{start}" if start == end else f"{start} – {end}"
    r0, r1 = _x(start), _x(end + timedelta(days=1))
    if unit == "day":
        s0, s1 = r0, r1
        ax.axvspan(s0, s1, color=_RANGE, alpha=0.25, zorder=1, label=f"batch dates ({span})")
    else:  # a few days are a hairline on a monthly/yearly axis: shade their months/years
        s0, s1 = _x(_bucket(start, unit)), _x(_next_bucket(_bucket(end, unit), unit))
        ax.axvspan(s0, s1, color=_RANGE, alpha=0.16, zorder=1,
                   label=f"batch dates ({span}; dashed) and their {unit}")
    for edge in (r0, r1):
        ax.axvline(edge, color=_RANGE, linewidth=1.3, linestyle=(0, (4, 2)), zorder=3)
    if (s1 - s0) < 0.02 * (xmax - xmin):  # too narrow to see: say where it is
        where = (s0 + s1) / 2
        frac = (where - xmin) / (xmax - xmin)
        ha = "right" if frac > 0.85 else "left" if frac < 0.15 else "center"
        ax.annotate("batch dates", (where, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(-4 if ha == "right" else 4 if ha == "left" else 0, -2),
                    textcoords="offset points", ha=ha, va="top", fontsize=8, color="#9a6700")
    top = max([*(bottom.values()), *(bands.values()), 1])
    ax.set_ylim(0, top * 1.22)
    ax.set_xticks(*_time_ticks(left, right, unit))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#d0d7de", linewidth=0.6, zorder=0)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=4, borderaxespad=0.2)
    return unit


def chart_batches(data: ReportData) -> str:
    """Records per batch: loaded articles stacked by language, rejected records on top."""
    dates = [b.batch_date for b in data.batches]
    totals: Counter[str] = Counter()
    for _, lang, n in data.batch_languages:
        totals[lang] += n
    charted = [lang for lang, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(charted) > _MAX_LANGUAGES_CHARTED:
        charted = charted[:_MAX_LANGUAGES_CHARTED - 1]
    per: dict[str, Counter[date]] = defaultdict(Counter)
    for day, lang, n in data.batch_languages:
        per[lang if lang in charted else "other"][day] += n
    layers = [*charted, *(["other"] if "other" in per else [])]
    fig = _figure(3.2)
    ax = fig.add_subplot()
    xs = list(range(len(dates)))
    bottom = [0] * len(dates)
    for i, lang in enumerate(layers):
        heights = [per[lang].get(d, 0) for d in dates]
        ax.bar(xs, heights, bottom=bottom, width=0.7, color=_PALETTE[i % len(_PALETTE)],
               label=f"loaded: {lang}", zorder=2)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    rejected = [b.records_rejected for b in data.batches]
    ax.bar(xs, rejected, bottom=bottom, width=0.7, color=_REJECTED, label="rejected", zorder=2)
    top = max(b.records_read for b in data.batches)
    if len(dates) <= 31:
        for x, b in zip(xs, data.batches, strict=True):
            ax.annotate(f"{b.records_read:,}", (x, b.records_read), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8,
                        color="#424a53")
    ax.set_ylim(0, max(1, top) * 1.15)
    step = max(1, -(-len(dates) // 16))
    few = len(dates) <= 8
    ax.set_xticks(xs[::step], [d.isoformat() for d in dates][::step],
                  rotation=0 if few else 45, ha="center" if few else "right")
    slack = max(0, 6 - len(dates)) / 2  # a lone batch gets a bar, not a wall
    ax.set_xlim(-0.6 - slack, len(dates) - 0.4 + slack)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("records")
    ax.grid(axis="y", color="#d0d7de", linewidth=0.6, zorder=0)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(layers) + 1, 7),
              borderaxespad=0.2)
    return _svg(fig, "batches", "Records read per batch: articles loaded by language, rejected")


def chart_published(data: ReportData) -> tuple[str, str] | None:
    """Articles of the range per publication day (or month/year); None when none is dated."""
    points: Counter[tuple[date, str]] = Counter()
    for day, precision, n in data.published:
        if day is not None:
            points[(day, precision)] += n
    if not points:
        return None
    fig = _figure(3.0)
    ax = fig.add_subplot()
    unit = _time_bars(ax, points, data.start, data.end, "articles")
    ax.set_ylabel("articles")
    return _svg(fig, "published", f"Articles per publication {unit}"), unit


def chart_entity(series: EntitySeries, start: date, end: date) -> tuple[str, str] | None:
    """Mentions of one entity per publication day (or month/year), whole warehouse."""
    points: Counter[tuple[date, str]] = Counter()
    for day, precision, n in series.points:
        points[(day, precision)] += n
    if not points:
        return None
    fig = _figure(3.0)
    ax = fig.add_subplot()
    unit = _time_bars(ax, points, start, end, "mentions")
    ax.set_ylabel("mentions")
    return _svg(fig, "entity", f"Mentions of {series.norm} per publication {unit}"), unit


# --- HTML -----------------------------------------------------------------------------------------


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
    out = ['<section id="batches"><h2>Records in and out</h2>',
           '<p class="note">Per batch, its current run: records read = articles loaded + '
           "records rejected.</p>",
           _table("batch-table", ["batch", "run", "files", "read", "loaded", "rejected",
                                  "entities", "reconciles"], rows,
                  foot=["total", None, files, read, loaded, rejected, found, None],
                  numeric=numeric,
                  row_classes=["" if b.reconciles else "bad" for b in data.batches]),
           _figure_html(svg, "<b>Records per batch</b>: articles loaded, by language, and "
                        "records rejected; the figure above each bar is the records read.",
                        "chart-batches"),
           "</section>"]
    return out


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
