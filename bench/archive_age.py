"""Archive age: does the 366th nightly run cost what the first did?

A history of daily batches is published into one warehouse (``bench/corpus.py`` articles, 1,000 a
day, every one distinct); at checkpoints (0, 30, 120, 365 earlier batches) the warehouse is
snapshotted (hard links: published files never change). Then the same probe batch (the next day
folder of the corpus, dated after the history) is run on every snapshot in turn, ``--rounds``
times, stage by stage in a child process: wall seconds and peak RSS of the child's process tree
(psutil, every 20 ms) per stage (plan, parse, enrich, publish, catalog); medians are reported.
The probe is removed after each run (pointer, links, version, index rows), so every run measures
the same batch against the same history, and the checkpoints are measured side by side.

Two histories:

* ``year``: 365 x 1,000 articles. Enrichment runs a gazetteer ruler (country, city and
  organisation names, ``--ner ruler``), which spaCy applies at tokeniser speed, so the entity
  tables, the entity cache and the example queries have real volume at a year's scale while the
  history builds in minutes instead of the hours the CNN would take;
* ``ner``: 60 x 300 articles through the shipped CNN models (``de_news``, ``en_news``), for the
  entity cache as production uses it.

After the last checkpoint the canonical DuckDB queries (top entities of a month, an entity over
time, articles per source per day) are timed on the warehouse (median of 5, connect included),
as is a forced catalog rebuild, and the Parquet files per table are counted. Results go to
``bench/RESULTS.md`` (its "Archive age" section; the rest of the file is kept) and
``bench/archive_age.svg``.

    python -m bench.archive_age [--history year|ner|both] [--checkpoints 0,30,120,365]
        [--days 365] [--per-day 1000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.corpus import CACHE, REPO, cached_corpus
from bench.throughput import canonical_queries, machine_info, tree_processes

LOGGER = logging.getLogger(__name__)

STAGES = ("plan", "parse", "enrich", "publish", "catalog")
FIRST_DAY = date(2023, 3, 1)
PROBE_DAY = date(2025, 1, 1)
SAMPLE_SECONDS = 0.02
RESULTS = REPO / "bench" / "RESULTS.md"
CHART = REPO / "bench" / "archive_age.svg"
TARGET_RATIO = 1.2
TARGET_QUERY_SECONDS = 1.0
MIB = 1024 * 1024


@dataclass
class Probe:
    earlier: int
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, float] = field(default_factory=dict)


@dataclass
class History:
    name: str
    days: int
    per_day: int
    ner: str
    probes: list[Probe] = field(default_factory=list)
    build_seconds: list[float] = field(default_factory=list)
    queries: dict[str, float] = field(default_factory=dict)
    catalog_rebuild: float | None = None
    files: dict[str, int] = field(default_factory=dict)
    index_mib: float | None = None
    compaction_seconds: dict[int, list[float]] = field(default_factory=dict)


# -- the child: one probe batch, stage by stage --------------------------------------------------

class PeakSampler:
    """Peak RSS of this process and its children, per labelled window."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.label: str | None = None
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            label = self.label
            if label is None:
                continue
            rss = sum(r for _, r, _ in tree_processes(self.me))
            self.peaks[label] = max(self.peaks.get(label, 0), rss)

    def stage(self, label: str, work: Callable[[], Any]) -> tuple[Any, float]:
        self.peaks[label] = self.me.memory_info().rss
        self.label = label
        start = time.perf_counter()
        try:
            return work(), time.perf_counter() - start
        finally:
            self.label = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def run_probe(settings_json: str, inputs: Path, day: date, limit: int) -> dict[str, Any]:
    """Every stage of one batch, as ``newsetl run`` does, timed one by one (in the child)."""
    from pipeline.batch.enrich import enrich_shards
    from pipeline.batch.parse import parse_shard
    from pipeline.batch.plan import plan_batch
    from pipeline.batch.publish import publish_batch
    from pipeline.ingest import readers
    from pipeline.settings import Settings
    from pipeline.stages import refresh_catalog

    settings = Settings.from_mapping(json.loads(settings_json))
    files = readers.list_input_files(inputs)[:limit]
    sampler = PeakSampler()
    seconds: dict[str, float] = {}
    plan, seconds["plan"] = sampler.stage("plan", lambda: plan_batch(files, day, settings))
    parsed, seconds["parse"] = sampler.stage(
        "parse", lambda: [parse_shard(s, day, settings) for s in plan.shards])
    _, seconds["enrich"] = sampler.stage(
        "enrich", lambda: enrich_shards([p["articles"] for p in parsed], day, settings))
    _, seconds["publish"] = sampler.stage(
        "publish", lambda: publish_batch(plan.path, day, settings))
    _, seconds["catalog"] = sampler.stage(
        "catalog", lambda: refresh_catalog(settings, force=True))
    sampler.close()
    return {"seconds": seconds, "peak_mib": {k: v / MIB for k, v in sampler.peaks.items()}}


# -- the parent ------------------------------------------------------------------------------------

def settings_for(warehouse: Path, ner: str, ruler: Path | None) -> dict[str, Any]:
    models = ({"de": str(ruler), "en": str(ruler)} if ner == "ruler" and ruler
              else {"de": "de_news", "en": "en_news"} if ner == "cnn"
              else {"de": "none", "en": "none"})
    return {"warehouse": str(warehouse), "ner_models": models, "parse_processes": 1,
            "ner_processes": 1}


def build_ruler(out: Path) -> Path:
    """A gazetteer-only pipeline (entity ruler over ORTH): countries, cities, organisations."""
    import spacy

    from training.ner.gazetteer import ORGANISATIONS, city_names, country_names

    if (out / "meta.json").is_file():
        return out
    nlp = spacy.blank("de")
    nlp.meta.update({"name": "bench_ruler", "version": "0.0.1"})
    ruler: Any = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
    ruler.add_patterns([{"label": "LOC", "pattern": name}
                        for name in sorted(country_names() | city_names())]
                       + [{"label": "ORG", "pattern": name} for name in ORGANISATIONS])
    nlp.to_disk(out)
    return out


def remove_batch(warehouse: Path, day: date) -> None:
    """Take the probe out again: its links, pointer and versions, then its index rows."""
    from pipeline.batch.archive_index import ArchiveIndex
    from pipeline.warehouse import layout, storage

    wh = storage.Warehouse(warehouse)
    layout.unlink_day(wh, day)
    if wh.pointer(day).is_symlink():
        wh.pointer(day).unlink()
    shutil.rmtree(warehouse / storage.STORE / storage.partition_name(day), ignore_errors=True)
    ArchiveIndex(wh).forget(day)


def probe(history: History, warehouse: Path, settings: dict[str, Any], folder: Path,
          earlier: int, logs: Path, round_: int = 0) -> Probe:
    cmd = [sys.executable, "-m", "bench.archive_age", "--child", json.dumps(settings),
           str(folder), PROBE_DAY.isoformat(), str(history.per_day)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    (logs / f"{history.name}-probe-{earlier}-{round_}.log").write_text(done.stderr,
                                                                        encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"probe after {earlier} batches failed ({done.returncode}); see "
                           f"{logs}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    remove_batch(warehouse, PROBE_DAY)
    out = Probe(earlier, result["seconds"], result["peak_mib"])
    print(f"[{history.name}] round {round_ + 1}, after {earlier:4d} batches: " + ", ".join(
        f"{s} {out.seconds[s]:.2f} s / {out.peak_mib[s]:.0f} MiB" for s in STAGES), flush=True)
    return out


def snapshot(warehouse: Path, dest: Path) -> None:
    """A copy of the warehouse as it is now, in seconds: Parquet files are never changed in
    place (a publish writes a new version), so they are hard links; the files a run does change
    in place (the archive index, the catalog, the lock files) are real copies."""
    from pipeline.batch.archive_index import INDEX_DIR
    from pipeline.warehouse import storage

    shutil.copytree(warehouse, dest, symlinks=True, copy_function=os.link)
    for name in (INDEX_DIR, storage.LOCKS, storage.CATALOG):
        copy = dest / name
        if copy.is_dir():
            shutil.rmtree(copy)
            shutil.copytree(warehouse / name, copy, symlinks=True)
        elif copy.exists():
            copy.unlink()
            shutil.copy2(warehouse / name, copy)


def run_history(history: History, checkpoints: Sequence[int], keep: bool, seed: int,
                corpus_days: int, rounds: int, probe_only: bool = False,
                resume: bool = False) -> None:
    """Publish the history, snapshotting the warehouse at each checkpoint; then probe every
    snapshot in turn, ``rounds`` times (side by side: the machine's load hits them alike), and
    keep each stage's median."""
    from pipeline import stages
    from pipeline.ingest import readers
    from pipeline.settings import Settings
    from pipeline.warehouse import storage

    corpus = cached_corpus(corpus_days * 1000, seed)  # one corpus for both histories
    folders = sorted(p for p in corpus.path.iterdir() if p.is_dir())
    if len(folders) < history.days + 1:
        raise RuntimeError(f"{corpus.path}: {len(folders)} day folders, {history.days + 1} "
                           "needed")
    base = CACHE / f"age-{history.name}-{history.days}x{history.per_day}-{seed}"
    if not probe_only and not resume:
        shutil.rmtree(base, ignore_errors=True)
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    warehouse = base / "warehouse"
    ruler = build_ruler(CACHE / "bench_ruler") if history.ner == "ruler" else None
    s = Settings.from_mapping(settings_for(warehouse, history.ner, ruler))
    logging.getLogger("pipeline").setLevel(logging.WARNING)
    snapshots: dict[int, Path] = {}
    if probe_only:  # the snapshots of an earlier --keep run, probed with the code as it is now
        snapshots = {n: base / f"after-{n}" for n in checkpoints}
        missing = [str(p) for p in snapshots.values() if not p.is_dir()]
        if missing:
            raise RuntimeError(f"--probe-only: no snapshot {', '.join(missing)}")
    first = 0
    if resume:  # an interrupted build: go on after its last published batch
        first = len(storage.Warehouse(warehouse).published_batches())
        snapshots = {k: base / f"after-{k}" for k in checkpoints if k < first}
        print(f"[{history.name}] resuming after {first} batches", flush=True)
    for n in range(first if not probe_only else history.days + 1, history.days + 1):
        if n in checkpoints:
            snapshots[n] = base / f"after-{n}"
            if n == 0:
                snapshots[n].mkdir()
            else:
                snapshot(warehouse, snapshots[n])
        if n == history.days:
            break
        day = FIRST_DAY + timedelta(days=n)
        start = time.perf_counter()
        stages.run_batch(readers.list_input_files(folders[n])[:history.per_day], day, s)
        history.build_seconds.append(time.perf_counter() - start)
        stages.compact_closed(s, before=day)  # as the nightly DAG does after its publish
        if (n + 1) % 10 == 0:
            print(f"[{history.name}] {n + 1} batches published, last "
                  f"{history.build_seconds[-1]:.1f} s", flush=True)
    for n, path in snapshots.items():
        if n:
            prepare(history, path, Settings.from_mapping(settings_for(path, history.ner, ruler)))
    measured: dict[int, list[Probe]] = {n: [] for n in snapshots}
    for r in range(rounds):
        for n, path in snapshots.items():
            settings = settings_for(path, history.ner, ruler)
            measured[n].append(probe(history, path, settings, folders[history.days], n, logs,
                                     r))
    for n, probes in measured.items():
        history.probes.append(Probe(
            n, {st: statistics.median(p.seconds[st] for p in probes) for st in STAGES},
            {st: statistics.median(p.peak_mib[st] for p in probes) for st in STAGES}))
    last = snapshots[max(snapshots)]
    finish(history, last, Settings.from_mapping(settings_for(last, history.ner, ruler)))
    if not keep:
        shutil.rmtree(base, ignore_errors=True)


def prepare(history: History, warehouse: Path, settings: Any) -> None:
    """Bring a snapshot to what the nightly DAG leaves (untimed, before the probes): the link
    layout, derived tables and catalog of this code, closed months compacted (each month's
    compaction timed), the archive index current (a snapshot of older code is indexed anew) and
    its recent band rows merged as the monthly compaction does."""
    from pipeline.batch.archive_index import ArchiveIndex
    from pipeline.stages import compact_closed, refresh_catalog
    from pipeline.warehouse import compaction, layout, storage

    start = time.perf_counter()
    refresh_catalog(settings, force=True)
    print(f"[{history.name}] {warehouse.name}: catalog and derived tables in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    wh = storage.Warehouse(warehouse)
    for month in compaction.closed_months(wh):
        start = time.perf_counter()
        compaction.compact_month(settings, month)
        history.compaction_seconds.setdefault(len(wh.published_batches()), []).append(
            time.perf_counter() - start)
    start = time.perf_counter()
    indexed = ArchiveIndex(wh).sync()
    compact_closed(settings)  # nothing left to fold: merges the index's recent band rows
    months = len(layout.compacted_months(wh))
    print(f"[{history.name}] {warehouse.name}: {months} months compacted, {indexed} batches "
          f"indexed, index merged in {time.perf_counter() - start:.1f} s", flush=True)


def finish(history: History, warehouse: Path, settings: Any) -> None:
    """Queries, a forced catalog rebuild and the file counts on the final warehouse."""
    import duckdb

    from pipeline.batch.archive_index import index_size
    from pipeline.stages import refresh_catalog
    from pipeline.warehouse import layout, storage

    medians, _ = canonical_queries(warehouse)
    history.queries.update(medians)
    sql = (REPO / "sql" / "examples" / "articles_per_source_per_day.sql")
    text = sql.read_text(encoding="utf-8") if sql.is_file() else (
        "SELECT source, published_date, count(*) FROM articles GROUP BY ALL ORDER BY ALL")
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        con = duckdb.connect(str(warehouse / storage.CATALOG), read_only=True)
        con.execute(text).fetchall()
        con.close()
        seconds.append(time.perf_counter() - start)
    history.queries["articles_per_source_per_day"] = statistics.median(seconds)
    start = time.perf_counter()
    refresh_catalog(settings, force=True)
    history.catalog_rebuild = time.perf_counter() - start
    for table in storage.table_names():  # the zero-row seed of the month glob not counted
        history.files[table] = sum(1 for p in (warehouse / table).glob("*/*.parquet")
                                   if p.parent.name != layout.SEED)
    history.index_mib = index_size(storage.Warehouse(warehouse)) / MIB
    print(f"[{history.name}] queries {history.queries}, catalog rebuild "
          f"{history.catalog_rebuild:.3f} s, files {history.files}", flush=True)


# -- the report ----------------------------------------------------------------------------------

def ratio_table(history: History) -> list[str]:
    first = history.probes[0]
    lines = [f"**{history.name}** history: {history.days} daily batches of {history.per_day} "
             f"articles, NER {history.ner}; probe batch of {history.per_day} articles. Wall "
             "seconds / peak RSS (MiB) per stage, and the ratio to the empty warehouse.", "",
             "| stage | " + " | ".join(f"after {p.earlier}" for p in history.probes) + " |",
             "| --- | " + " | ".join("---:" for _ in history.probes) + " |"]
    for stage in STAGES:
        cells = []
        for p in history.probes:
            t, m = p.seconds[stage], p.peak_mib[stage]
            if p is first:
                cells.append(f"{t:.2f} s / {m:.0f} MiB")
            else:
                cells.append(f"{t:.2f} s ({t / first.seconds[stage]:.2f}x) / {m:.0f} MiB "
                             f"({m / first.peak_mib[stage]:.2f}x)")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    total = [sum(p.seconds.values()) for p in history.probes]
    lines.append("| all | " + " | ".join(
        f"{t:.2f} s" + ("" if i == 0 else f" ({t / total[0]:.2f}x)")
        for i, t in enumerate(total)) + " |")
    return lines


def verdicts(history: History) -> list[str]:
    first, last = history.probes[0], history.probes[-1]
    out = []
    for stage in STAGES:
        rt = last.seconds[stage] / first.seconds[stage]
        rm = last.peak_mib[stage] / first.peak_mib[stage]
        ok = rt <= TARGET_RATIO and rm <= TARGET_RATIO
        out.append(f"- {stage}: {rt:.2f}x time, {rm:.2f}x memory after {last.earlier} batches: "
                   f"{'met' if ok else '**not met**'} (<= {TARGET_RATIO}x)")
    for name, seconds in history.queries.items():
        out.append(f"- query {name}: {seconds:.3f} s median: "
                   f"{'met' if seconds < TARGET_QUERY_SECONDS else '**not met**'} (< 1 s)")
    if history.catalog_rebuild is not None:
        ok = history.catalog_rebuild < TARGET_QUERY_SECONDS
        out.append(f"- forced catalog rebuild: {history.catalog_rebuild:.3f} s: "
                   f"{'met' if ok else '**not met**'} (< 1 s)")
    out.append(f"- Parquet files: {sum(history.files.values())} "
               f"({', '.join(f'{t} {n}' for t, n in history.files.items())}); archive index "
               f"{history.index_mib:.1f} MiB")
    for batches, times in sorted(history.compaction_seconds.items()):
        out.append(f"- compacting a closed month (`newsetl compact`; the nightly DAG does it on "
                   f"a month's first night) with {batches} batches published: "
                   f"{statistics.median(times):.2f} s median, {max(times):.2f} s max, "
                   f"{len(times)} months")
    if history.build_seconds:
        b = history.build_seconds
        out.append(f"- building the history: first 10 batches {statistics.mean(b[:10]):.2f} s "
                   f"each, last 10 {statistics.mean(b[-10:]):.2f} s each (whole `run_batch`)")
    return out


def chart(histories: Sequence[History], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6 * len(histories)))
    for row, history in enumerate(histories):
        for col, (key, title) in enumerate((("seconds", "wall s"), ("peak_mib", "peak MiB"))):
            ax = fig.add_subplot(len(histories), 2, row * 2 + col + 1)
            xs = [p.earlier for p in history.probes]
            for stage in STAGES:
                ax.plot(xs, [getattr(p, key)[stage] for p in history.probes], marker="o",
                        label=stage)
            ax.set_title(f"{history.name}: {title} per stage vs earlier batches", fontsize=9)
            ax.set_xlabel("earlier batches in the warehouse", fontsize=8)
            ax.set_ylim(bottom=0)
            ax.tick_params(labelsize=8)
            if col == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})


def markers(name: str) -> tuple[str, str, Path]:
    """Begin and end markers of a history's section of RESULTS.md, and its chart: each history
    is written by its own run."""
    tag = "archive-age" if name == "year" else f"archive-age-{name}"
    chart_file = CHART if name == "year" else CHART.with_name(f"archive_age_{name}.svg")
    return f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->", chart_file


def report(history: History, command: str) -> str:
    begin, end, chart_file = markers(history.name)
    title = ("## Archive age (issue: the 1,000th nightly run costs what the first did)"
             if history.name == "year" else f"### Archive age: the {history.name} history")
    lines = [begin, title,
             "", f"Command: `{command}`. Machine: " + ", ".join(
                 f"{k} {v}" for k, v in machine_info(os.getloadavg()).items()
                 if k in ("date", "CPU", "cores", "RAM", "code", "load average at start")) + ".",
             "",
             "Each probe is one child process running plan, parse, enrich, publish and a forced "
             "catalog refresh in turn (one process each: parse_processes = ner_processes = 1), "
             "so stages are timed side by side in the same run; peak RSS includes the child's "
             "imports (about the same at every checkpoint).", "",
             f"![archive age]({chart_file.name})", "",
             *ratio_table(history), "", *verdicts(history), "", end]
    return "\n".join(lines) + "\n"


def write_section(text: str, name: str, path: Path = RESULTS) -> None:
    """Replace the history's section of RESULTS.md (or append it), keeping the rest."""
    begin, end, _ = markers(name)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else \
        (old.rstrip("\n") + "\n\n" + text if old else text)
    path.write_text(new, encoding="utf-8")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, settings, folder, day, limit = sys.argv
        print(json.dumps(run_probe(settings, Path(folder), date.fromisoformat(day),
                                   int(limit))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", choices=("year", "ner", "both"), default="both")
    parser.add_argument("--days", type=int, default=365, help="year history length")
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--checkpoints", default="0,30,120,365")
    parser.add_argument("--ner-days", type=int, default=60)
    parser.add_argument("--ner-per-day", type=int, default=300)
    parser.add_argument("--ner-checkpoints", default="0,30,60")
    parser.add_argument("--rounds", type=int, default=3,
                        help="probes of each checkpoint, interleaved; medians are reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the warehouses")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument("--resume", action="store_true",
                        help="go on with an interrupted history build (its warehouse is kept)")
    parser.add_argument("--probe-only", action="store_true",
                        help="probe the snapshots an earlier --keep run left (no history build)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    histories = []
    if args.history in ("year", "both"):
        histories.append(History("year", args.days, args.per_day, "ruler"))
    if args.history in ("ner", "both"):
        histories.append(History("ner", args.ner_days, args.ner_per_day, "cnn"))
    corpus_days = max(args.days, args.ner_days) + 1  # one corpus for both histories
    for history in histories:
        points = args.checkpoints if history.name == "year" else args.ner_checkpoints
        run_history(history, [int(x) for x in points.split(",")], args.keep or args.probe_only,
                    args.seed, corpus_days, args.rounds, args.probe_only, args.resume)
    for history in histories:
        text = report(history, "python -m bench.archive_age " + " ".join(sys.argv[1:]))
        print(text)
        if not args.no_write:
            write_section(text, history.name)
            chart([history], markers(history.name)[2])
            print(f"written to {RESULTS} and {markers(history.name)[2]}")


if __name__ == "__main__":
    main()
