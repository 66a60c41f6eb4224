"""Progress of long commands: stages report units of work, the caller decides how it is shown.

Stages take an optional ``Progress`` and call ``advance`` per unit (a file, a shard, a day); the
default ``NO_PROGRESS`` ignores it, so the library and the Airflow tasks stay silent. Entry points
(``newsetl``, ``training.ner.convert``) pick a renderer with ``choose``: one status line rewritten
in place on a terminal, or a log line every ``interval`` seconds plus one per finished stage where
nobody watches a terminal (CI, Airflow, pipes), so logs do not get one line per file.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO

LOGGER = logging.getLogger(__name__)

Clock = Callable[[], float]
SHORT_UNITS = {"articles": "art", "sentences": "sent", "records": "rec"}
"""Shorter item names for the status line, which has to fit on one terminal line."""


class Progress:
    """Where stages report their work; this base class ignores it (the library's default)."""

    def start(self, stage: str, total: int | None, unit: str = "files",
              item_unit: str | None = None, per_minute: bool = False,
              counts: Iterable[str] = ()) -> None:
        """A stage begins: ``total`` units (None: unknown) of which items (articles) are counted.

        ``per_minute`` shows the rate in units per minute (slow units: days); otherwise items
        (or units, without items) per second. ``counts`` are tallies shown from zero on.
        """

    def advance(self, stage: str, done: int = 0, items: int = 0, **counts: int) -> None:
        """``done`` more units and ``items`` more items finished; ``counts`` add to tallies."""

    def finish(self, stage: str) -> None:
        """The stage is over: renderers show its final line."""

    def clear(self) -> None:
        """Erase a status line before other output (a log line, a result) is written."""

    def close(self) -> None:
        """Leave the output tidy (a status line of an interrupted stage is ended)."""


NO_PROGRESS = Progress()


@dataclass
class StageState:
    """The counters of one stage at one moment, and what they say about rate and time left."""

    stage: str
    total: int | None
    unit: str
    item_unit: str | None
    per_minute: bool
    started: float
    now: float
    done: int = 0
    items: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        return max(0.0, self.now - self.started)

    @property
    def rate(self) -> float | None:
        """Items (or units, if no items are counted) per second, or units per minute."""
        if self.elapsed <= 0:
            return None
        if self.per_minute:
            return self.done / (self.elapsed / 60)
        return (self.items if self.item_unit else self.done) / self.elapsed

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace of the units finished so far (None before the first one)."""
        if self.total is None or self.done <= 0 or self.done >= self.total:
            return None
        return self.elapsed / self.done * (self.total - self.done)

    def describe(self, final: bool, short: bool) -> str:
        """``12/40 files, 3,120 articles, 410 articles/s, ETA 0:00:07`` (short: for a terminal)."""
        parts = [f"{self.done:,}/{self.total:,} {self.unit}" if self.total is not None
                 else f"{self.done:,} {self.unit}"]
        if self.item_unit:
            parts.append(f"{self.items:,} {self.item_unit}")
        parts += [f"{n:,} {name}" for name, n in self.counts.items()]
        rate = self.rate
        if rate is not None:
            what = self.unit if self.per_minute or not self.item_unit else self.item_unit
            if short:
                what = SHORT_UNITS.get(what, what)
            parts.append(f"{_number(rate)} {what}/{'min' if self.per_minute else 's'}")
        eta = self.eta
        if final or not short:
            parts.append(_duration(self.elapsed))
        if not final and eta is not None:
            parts.append(f"ETA {timedelta(seconds=math.ceil(eta))}")  # never "ETA 0:00:00"
        return ("  " if short else ", ").join(parts)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else str(timedelta(seconds=round(seconds)))


class _Tracker(Progress):
    """Keeps every stage's counters; subclasses decide when and how to show them."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._stages: dict[str, StageState] = {}

    def start(self, stage: str, total: int | None, unit: str = "files",
              item_unit: str | None = None, per_minute: bool = False,
              counts: Iterable[str] = ()) -> None:
        now = self._clock()
        self._stages[stage] = StageState(stage, total, unit, item_unit, per_minute, now, now,
                                         counts=dict.fromkeys(counts, 0))
        self._show(self._stages[stage], final=False)

    def advance(self, stage: str, done: int = 0, items: int = 0, **counts: int) -> None:
        state = self._stages.get(stage)
        if state is None:  # a stage nobody started: count it anyway, total unknown
            self.start(stage, None, item_unit="items" if items else None)
            state = self._stages[stage]
        state.now = self._clock()
        state.done += done
        state.items += items
        for name, n in counts.items():
            state.counts[name] = state.counts.get(name, 0) + n
        self._show(state, final=False)

    def finish(self, stage: str) -> None:
        state = self._stages.pop(stage, None)
        if state is not None:
            state.now = self._clock()
            self._show(state, final=True)

    def state(self, stage: str) -> StageState | None:
        """The counters of a running stage (None once finished)."""
        return self._stages.get(stage)

    def _show(self, state: StageState, final: bool) -> None:
        raise NotImplementedError


class LogProgress(_Tracker):
    """Log lines for logs read later: per stage, one per ``interval`` seconds and one at the end."""

    def __init__(self, interval: float = 10.0, logger: logging.Logger = LOGGER,
                 clock: Clock = time.monotonic) -> None:
        super().__init__(clock)
        self.interval = interval
        self._logger = logger
        self._logged: dict[str, float] = {}

    def _show(self, state: StageState, final: bool) -> None:
        last = self._logged.get(state.stage, state.started)
        if final:
            self._logged.pop(state.stage, None)
        elif state.now - last < self.interval:
            return
        else:
            self._logged[state.stage] = state.now
        self._logger.info("progress %s: %s", state.stage, state.describe(final, short=False))


class TerminalProgress(_Tracker):
    """One status line rewritten in place (carriage return); each finished stage keeps a line."""

    def __init__(self, stream: TextIO, interval: float = 0.1,
                 clock: Clock = time.monotonic) -> None:
        super().__init__(clock)
        self.interval = interval
        self._stream = stream
        self._shown = 0
        """Width of the status line on screen (0: none)."""
        self._drawn_at: float | None = None

    def _show(self, state: StageState, final: bool) -> None:
        if (not final and self._shown and self._drawn_at is not None
                and state.now - self._drawn_at < self.interval):
            return  # redrawing per file would cost more than the work on small files
        width = max(20, shutil.get_terminal_size().columns - 1)  # a wrapped line cannot be redrawn
        line = f"{state.stage:<8} {state.describe(final, short=True)}"[:width]
        self._stream.write("\r" + line.ljust(self._shown) + ("\n" if final else ""))
        self._stream.flush()
        self._shown = 0 if final else len(line)
        self._drawn_at = state.now

    def clear(self) -> None:
        """Erase the status line (before a log line or other output); the next update redraws."""
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0

    def close(self) -> None:
        if self._shown:  # an interrupted stage: keep its last state, the error comes below it
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0


class ClearStatusLine(logging.Filter):
    """For the entry point's log handlers: a log record first erases the terminal status line."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self._progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self._progress.clear()
        return True


def choose(stream: TextIO, enabled: bool | None = None, interval: float = 10.0,
           clock: Clock = time.monotonic) -> Progress:
    """The renderer for an entry point: status line or log lines.

    ``enabled`` True forces the status line, False gives log lines; None (the default) shows the
    status line only if ``stream`` is a terminal and INFO messages are shown (not ``-q``).
    """
    if enabled is None:
        isatty = getattr(stream, "isatty", None)
        enabled = bool(isatty is not None and isatty()) and LOGGER.isEnabledFor(logging.INFO)
    if enabled:
        return TerminalProgress(stream, clock=clock)
    return LogProgress(interval, clock=clock)
