"""The report's charts: matplotlib figures turned into SVG elements to inline in the page.

Kept apart from the HTML because it is the only part of the report that needs matplotlib (imported
lazily, on the Agg canvas, without pyplot) and because the time-axis logic (buckets per day, month
or year; dates known only to a month or year; the shaded batch dates) is a topic of its own.
Every chart is drawn inside ``_chart_style()``, which fixes the style and the SVG hash salt so
that the same data gives the same bytes.
"""

from __future__ import annotations

import html
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.report.data import EntitySeries, PlaceRow, ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
            "#ccb974", "#64b5cd")
_REJECTED = "#c44e52"
_DAY = "#4c72b0"
_COARSE = "#a9c1e3"
_RANGE = "#f2a91c"
_MAX_LANGUAGES_CHARTED = 6


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


def _basemap() -> Any:
    """Natural Earth's shaded relief as cartopy ships it in its wheel (nothing is downloaded),
    an equirectangular image of the whole world, at 360 x 180: a backdrop, not a map to read."""
    from importlib.resources import files

    from matplotlib.image import imread

    path = files("cartopy") / "data" / "raster" / "natural_earth" / \
        "50-natural-earth-1-downsampled.png"
    image = imread(io.BytesIO(path.read_bytes()), format="png")[::2, ::2]
    return (image * 15).round() / 15  # 16 levels a channel: a third of the bytes in the page


def chart_places(places: Sequence[PlaceRow], labels: int = 10) -> str | None:
    """Resolved places over a world map, an area per mention; None without places."""
    if not places:
        return None
    import numpy as np

    fig = _figure(5.2)
    ax = fig.add_subplot()
    # "none": the SVG holds the small image itself; the browser scales it
    ax.imshow(_basemap(), extent=(-180, 180, -90, 90), interpolation="none", alpha=0.8)
    mentions = np.array([p.mentions for p in places], dtype=float)
    sizes = 12 + 400 * np.sqrt(mentions / mentions.max())
    colours = {"country": "#cf222e", "city": "#0969da", "admin1": "#8250df",
               "region": "#bf8700", "continent": "#1a7f37"}
    for feature, colour in colours.items():
        idx = [i for i, p in enumerate(places) if p.feature == feature]
        if idx:
            ax.scatter([places[i].longitude for i in idx], [places[i].latitude for i in idx],
                       s=sizes[idx], color=colour, alpha=0.6, edgecolors="white",
                       linewidths=0.6, label=feature, zorder=3)
    for p in places[:labels]:
        ax.annotate(p.name, (p.longitude, p.latitude), xytext=(4, 4),
                    textcoords="offset points", fontsize=8, zorder=4)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-60, 85)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.legend(loc="lower left", markerscale=0.5)
    return _svg(fig, "map", "Map of the places mentioned")
