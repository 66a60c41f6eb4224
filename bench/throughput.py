"""Throughput and memory of the pipeline, beside its ceiling and the naive alternative.

For each corpus size (``bench/corpus.py``: reference-format dumps recombined from real German and
English news, cached under ``build/bench/``), on the same corpus, each measurement runs in its
own child process; the harness samples the RSS of the child's whole process tree (psutil, every
0.2 s, summed over the tree) and its wall time (spawn to exit: imports and model loads included):

a. ceiling: bare ``nlp.pipe(texts, n_process=2, batch_size=B)`` with models/de_news over every
   article's text as enrichment hands it to spaCy (the body; ``--ceiling-text teaser+body`` adds
   the teaser), model load included; B is the pipeline's ``ner_batch_size`` (16), so the ceiling
   is the model at the batch size the pipeline uses;
b. ``newsetl run --input <corpus> --date 2023-03-01`` end to end into a fresh warehouse, with
   ``NEWSETL_NER_MODELS={"de": "de_news", "en": "de_news"}`` (every article, the English fifth
   too, goes through the same German model as in a) and ``NEWSETL_NER_PROCESSES=2``;
c. the same run with enrichment off (``{"de": "none", "en": "none"}``) on one core
   (``taskset -c 0``);
d. the naive alternative: a pandas DataFrame of every file's text, ``df["text"].apply(...nlp(t)
   .ents...)``, ``df.to_parquet`` (model load included);
e. (b) again on the same warehouse (files unchanged), then the same articles under new file names
   in another day folder as batch 2023-04-01 into that warehouse (already-enriched content);
f. ``newsetl backfill`` of the corpus's day folders with ``--parallel 1`` and ``--parallel 2``
   into fresh warehouses, ``NEWSETL_NER_PROCESSES=1`` (one process per worker);
g. sql/examples/top_entities_of_month.sql and entity_over_time.sql on the warehouse of (b),
   through duckdb read-only on news.duckdb (month and entity set to the corpus's top ones),
   5 times each: median seconds.

words/s is always the corpus's word count (teaser + body, ``\\w+`` tokens) over wall seconds,
the same numerator for every row, so ratios of rates are inverse ratios of wall times. Results
go to ``--out`` (Markdown: machine, a table per size, ratios, growth across sizes, the issue's
targets met or not) and stdout. Nothing here asserts on timings.

    python -m bench.throughput --n 10000 [--sizes 1000,10000] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.corpus import CACHE, REPO, CorpusInfo, cached_corpus
from pipeline.settings import Settings
from pipeline.transform.textdump import parse_text_dump

LOGGER = logging.getLogger(__name__)

MODEL = REPO / "models" / "de_news"
SAMPLE_SECONDS = 0.2
FIRST_BATCH = "2023-03-01"
COPY_BATCH = "2023-04-01"
NER_ALL_GERMAN = json.dumps({"de": "de_news", "en": "de_news"})
NER_OFF = json.dumps({"de": "none", "en": "none"})
CEILING_PROCESSES = 2
CEILING_BATCH = Settings().ner_batch_size
QUERY_REPEATS = 5
EXAMPLES = REPO / "sql" / "examples"
MIB = 1024 * 1024

# Targets of the issue "Throughput and memory".
TARGET_VS_CEILING = 0.85
TARGET_RERUN_SPEEDUP = 20.0
TARGET_NO_NER_RATE = 1000.0
TARGET_PEAK_BYTES = 2.5e9
TARGET_PEAK_AT = 100_000
TARGET_QUERY_SECONDS = 1.0

CEILING_CHILD = """
import json, sys
from pathlib import Path
from pipeline.enrich.ner import load_pipeline
model, texts_path = sys.argv[1], sys.argv[2]
n_process, batch_size = int(sys.argv[3]), int(sys.argv[4])
with open(texts_path, encoding="utf-8") as fh:
    texts = [json.loads(line)["text"] for line in fh]
# The pipeline exactly as enrichment loads it (same components, same fast gazetteer load), so
# the ratio measures what the pipeline adds around nlp.pipe, not how the model is loaded.
nlp = load_pipeline(str(Path(model).resolve()))
docs = ents = 0
for doc in nlp.pipe(texts, n_process=n_process, batch_size=batch_size):
    docs += 1
    ents += len(doc.ents)
print(json.dumps({"docs": docs, "entities": ents}))
"""

# What a user would write. The literal tuples cannot be written by to_parquet (pyarrow: "Expected
# bytes, got a 'int' object": a tuple is read as a list of one type), so the one line a user then
# adds turns them into records; that line is part of the measured time.
NAIVE_CHILD = """
import json, sys
from pathlib import Path
import pandas as pd
import spacy
import pipeline.enrich.nounfilter  # registers the shipped German pipeline's last component
root, model, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
paths = sorted(root.rglob("*.txt"))
df = pd.DataFrame({"path": [str(p) for p in paths],
                   "text": [p.read_text(encoding="utf-8") for p in paths]})
nlp = spacy.load(model)
df["entities"] = df["text"].apply(
    lambda t: [(e.text, e.label_, e.start_char, e.end_char) for e in nlp(t).ents])
df["entities"] = df["entities"].map(
    lambda es: [dict(zip(("text", "label", "start_char", "end_char"), e)) for e in es])
df.to_parquet(out)
print(json.dumps({"docs": len(df), "entities": int(df["entities"].map(len).sum())}))
"""


class BenchError(RuntimeError):
    """A measured command failed or did not load what it was given."""


@dataclass
class Measurement:
    key: str
    what: str
    wall_s: float
    peak_rss: int
    """Bytes: the largest sum of RSS over the child's process tree seen by the sampler."""
    peak_pss: int
    """Bytes: the same for PSS (shared pages split between the processes sharing them)."""
    processes: int
    """Most processes seen at once in the child's tree."""
    articles: int
    words: int
    detail: str = ""
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per pipeline stage, from the run's ``progress <stage>:`` log lines."""
    peak_at: list[str] = field(default_factory=list)
    """The processes at the RSS peak, largest first (``"<name> <pid>: <RSS> MiB"``), and when."""

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.wall_s

    @property
    def words_per_s(self) -> float:
        return self.words / self.wall_s

    @property
    def peak_mib(self) -> float:
        return self.peak_rss / MIB

    @property
    def peak_pss_mib(self) -> float:
        return self.peak_pss / MIB


@dataclass
class SizeResult:
    corpus: CorpusInfo
    runs: dict[str, Measurement]
    queries: dict[str, float]
    """Median seconds of each canonical query."""
    query_values: dict[str, str]
    notes: list[str]


def load_result(path: Path) -> SizeResult:
    """A size's result as ``bench_size`` saved it (``logs/results.json``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return SizeResult(CorpusInfo.from_json(data["corpus"]),
                      {k: Measurement(**m) for k, m in data["runs"].items()},
                      data["queries"], data["query_values"], data["notes"])


def tree_processes(root: psutil.Process) -> list[tuple[int, int, int]]:
    """``(pid, RSS, PSS)`` of ``root`` and each of its live descendants.

    PSS (proportional set size) splits pages shared by forked processes between them, so its
    sum is the tree's physical footprint; the RSS sum counts a shared page once per process.
    """
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        procs = [root]
    out = []
    for proc in procs:
        try:
            full = proc.memory_full_info()
        except psutil.AccessDenied:
            try:
                full = proc.memory_info()
            except psutil.Error:
                continue
        except psutil.Error:  # exited (or a zombie) between listing and reading
            continue
        out.append((proc.pid, full.rss, getattr(full, "pss", full.rss)))
    return out


_LOG_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) \w+ pipeline\.progress: "
                       r"progress (\w+): ")


def stage_seconds(stderr: str, started: float, ended: float) -> dict[str, float]:
    """Seconds per stage from the last ``progress <stage>:`` line of each stage (logged when
    the stage finishes; stages run one after another): ``start`` is spawn to the first stage's
    end, ``end`` is the last stage's end to exit (catalog refresh, summary query)."""
    last: dict[str, float] = {}
    for line in stderr.splitlines():
        if (match := _LOG_TIME.match(line)) is not None:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            last[match.group(2)] = stamp
    out: dict[str, float] = {}
    previous = started
    for stage, stamp in sorted(last.items(), key=lambda kv: kv[1]):
        out[stage] = max(0.0, stamp - previous)
        previous = stamp
    if out:
        out["end"] = max(0.0, ended - previous)
    return out


def measure(key: str, what: str, cmd: Sequence[str], env: Mapping[str, str], logs: Path,
            articles: int, words: int) -> Measurement:
    """Run ``cmd`` in a child process, sampling its tree's RSS; stdout/stderr go to ``logs``."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{key}.stdout", logs / f"{key}.stderr"
    print(f"[{key}] {what}", flush=True)
    LOGGER.info("[%s] %s", key, " ".join(cmd))
    peak = peak_pss = procs = 0
    peak_at: list[str] = []
    with out_path.open("wb") as out, err_path.open("wb") as err, \
            (logs / f"{key}.memory.tsv").open("w", encoding="utf-8") as timeline:
        timeline.write("seconds\tpid\trss_mib\tpss_mib\n")
        wall_start = time.time()
        start = time.perf_counter()
        child = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=dict(env), cwd=logs)
        root = psutil.Process(child.pid)
        while True:
            tree = tree_processes(root)
            at = time.perf_counter() - start
            for pid, p_rss, p_pss in tree:
                timeline.write(f"{at:.1f}\t{pid}\t{p_rss / MIB:.0f}\t{p_pss / MIB:.0f}\n")
            rss, pss = sum(p[1] for p in tree), sum(p[2] for p in tree)
            if rss > peak:
                peak_at = [f"{'main' if pid == child.pid else 'child'} {pid}: "
                           f"{p_rss / MIB:,.0f} MiB" for pid, p_rss, _ in
                           sorted(tree, key=lambda p: -p[1])] + [f"at {at:.0f} s"]
            peak, peak_pss, procs = max(peak, rss), max(peak_pss, pss), max(procs, len(tree))
            try:
                child.wait(timeout=SAMPLE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue
        wall = time.perf_counter() - start
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    if child.returncode != 0:
        raise BenchError(f"[{key}] exit {child.returncode}: {' '.join(cmd)}\n"
                         f"{stderr[-4000:]}")
    result = Measurement(key, what, wall, peak, peak_pss, procs, articles, words,
                         stages=stage_seconds(stderr, wall_start, wall_start + wall),
                         peak_at=peak_at)
    print(f"[{key}] {wall:.1f} s, {result.articles_per_s:,.1f} articles/s, "
          f"{result.words_per_s:,.0f} words/s, peak RSS {result.peak_mib:,.0f} MiB "
          f"(PSS {result.peak_pss_mib:,.0f} MiB), "
          f"{procs} processes", flush=True)
    return result


def child_env(**settings: str) -> dict[str, str]:
    """This environment without any ``NEWSETL_*`` variable, plus ``settings`` as
    ``NEWSETL_<NAME>``: every run sees only what the benchmark sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSETL_")}
    env.update({f"NEWSETL_{name.upper()}": value for name, value in settings.items()})
    return env


def newsetl() -> str:
    beside = Path(sys.executable).with_name("newsetl")
    if beside.exists():
        return str(beside)
    found = shutil.which("newsetl")
    if found is None:
        raise BenchError("the newsetl command is not installed (make install)")
    return found


def run_cmd(inputs: Path, batch: str, warehouse: Path) -> list[str]:
    return [newsetl(), "run", "--input", str(inputs), "--date", batch,
            "--warehouse", str(warehouse), "--no-progress"]


def write_texts(corpus: CorpusInfo, out: Path, with_teaser: bool) -> int:
    """The text of every article as enrichment hands it to spaCy (the body, parsed by the
    project's text-dump parser), one JSON line each; returns how many."""
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for path in corpus.files():
            dump = parse_text_dump(path.read_text(encoding="utf-8"))
            text = f"{dump.teaser}\n\n{dump.body}" if with_teaser and dump.teaser else dump.body
            fh.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            n += 1
    return n


def copy_under_new_names(corpus: CorpusInfo, folder: Path) -> int:
    """Every article of the corpus, byte for byte, under a new name (same sequence, another
    16-hex source id, so another article_id) in one folder."""
    folder.mkdir(parents=True)
    n = 0
    for path in corpus.files():
        sequence = path.name.split("_", 1)[0]
        source_id = hashlib.sha256(f"copy:{path.name}".encode()).hexdigest()[:16]
        shutil.copyfile(path, folder / f"{sequence}_{source_id}.txt")
        n += 1
    return n


def current_runs(warehouse: Path) -> dict[str, dict[str, Any]]:
    """The current run of each batch in a warehouse, from its catalog."""
    import duckdb

    con = duckdb.connect(str(warehouse / "news.duckdb"), read_only=True)
    try:
        cur = con.execute("SELECT strftime(batch_date, '%Y-%m-%d') AS batch, records_read, "
                          "articles_loaded, records_rejected, entities_found, files_unchanged "
                          "FROM runs WHERE is_current ORDER BY batch_date")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
    finally:
        con.close()


def check_loaded(key: str, warehouse: Path, batches: Sequence[str], expected: int) -> str:
    """Fail unless the batches loaded ``expected`` articles in all; a one-line summary."""
    runs = current_runs(warehouse)
    missing = [b for b in batches if b not in runs]
    if missing:
        raise BenchError(f"[{key}] no published run for {', '.join(missing)} in {warehouse}")
    loaded = sum(int(runs[b]["articles_loaded"]) for b in batches)
    rejected = sum(int(runs[b]["records_rejected"]) for b in batches)
    entities = sum(int(runs[b]["entities_found"] or 0) for b in batches)
    if loaded != expected:
        raise BenchError(f"[{key}] loaded {loaded} articles, expected {expected} "
                         f"({rejected} rejected)")
    return f"loaded {loaded:,}, {entities:,} entities"


_REUSED = re.compile(r"entities of (\d+) articles reused")


def reused_articles(stderr: str) -> int | None:
    """Articles whose entities the enrichment cache supplied, from its log line (None when the
    pipeline logs no such line: no cache, or nothing reused)."""
    counts = [int(m.group(1)) for m in _REUSED.finditer(stderr)]
    return sum(counts) if counts else None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def canonical_queries(warehouse: Path, repeats: int = QUERY_REPEATS,
                      ) -> tuple[dict[str, float], dict[str, str]]:
    """Median seconds (connect, run, fetch, close) of the two canonical example queries, with
    the month and entity literals set to the top month and entity of the warehouse."""
    import duckdb

    catalog = str(warehouse / "news.duckdb")
    con = duckdb.connect(catalog, read_only=True)
    try:
        month_row = con.execute(
            "SELECT date_trunc('month', day)::DATE AS month, sum(mentions) AS mentions "
            "FROM entity_mentions_daily GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
        entity_row = con.execute(
            "SELECT norm, label, sum(mentions) AS mentions FROM entity_mentions_daily "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1").fetchone()
    finally:
        con.close()
    if month_row is None or entity_row is None:
        raise BenchError(f"no entities in {warehouse}: nothing to query")
    month, norm, label = month_row[0], str(entity_row[0]), str(entity_row[1])
    top_sql, n_month = re.subn(r"SET VARIABLE month_start = DATE '\d{4}-\d{2}-\d{2}';",
                               f"SET VARIABLE month_start = DATE '{month:%Y-%m-%d}';",
                               (EXAMPLES / "top_entities_of_month.sql").read_text("utf-8"))
    over_sql, n_entity = re.subn(
        r"SET VARIABLE entity = '(?:[^']|'')*';\nSET VARIABLE label = '(?:[^']|'')*';",
        lambda _: f"SET VARIABLE entity = {_quote(norm)};\nSET VARIABLE label = {_quote(label)};",
        (EXAMPLES / "entity_over_time.sql").read_text("utf-8"))
    if n_month != 1 or n_entity != 1:
        raise BenchError("sql/examples changed: cannot set the month/entity literals")
    medians: dict[str, float] = {}
    for name, sql in (("top_entities_of_month.sql", top_sql), ("entity_over_time.sql", over_sql)):
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            con = duckdb.connect(catalog, read_only=True)
            rows = con.execute(sql).fetchall()
            con.close()
            seconds.append(time.perf_counter() - start)
            if not rows:
                raise BenchError(f"{name} returned no rows on {warehouse}")
        medians[name] = statistics.median(seconds)
        print(f"[g] {name}: median {medians[name]:.3f} s of {repeats} "
              f"({', '.join(f'{s:.3f}' for s in seconds)})", flush=True)
    values = {"month": f"{month:%Y-%m}", "entity": f"{norm} ({label})"}
    return medians, values


ALL_STEPS = frozenset("abcdef")
"""Step groups: a, b (with g, which queries b's warehouse), c, d, e (e1, e2), f (f1, f2)."""


def bench_size(n: int, seed: int, ceiling_text: str, keep: bool,
               steps: frozenset[str] = ALL_STEPS) -> SizeResult:
    """The ``steps`` on a corpus of ``n`` articles (b and g always run). At a size where the
    ceiling, the naive alternative and the backfills would take hours, the single-batch steps
    (b, g; e, c) answer the memory and query targets."""
    corpus = cached_corpus(n, seed)
    work = CACHE / f"run-{n}-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    print(f"== N = {n:,}: corpus {corpus.path} ({len(corpus.days)} day folders, "
          f"{corpus.words:,} words); work folder {work}", flush=True)
    notes: list[str] = []
    runs: dict[str, Measurement] = {}

    def add(m: Measurement) -> Measurement:
        runs[m.key] = m
        return m

    texts = work / "texts.jsonl"
    write_texts(corpus, texts, with_teaser=ceiling_text == "teaser+body")
    if "a" in steps:
        a = add(measure("a", f"ceiling: bare nlp.pipe(n_process={CEILING_PROCESSES}, "
                             f"batch_size={CEILING_BATCH}), de_news, {ceiling_text}",
                        [sys.executable, "-c", CEILING_CHILD, str(MODEL), str(texts),
                         str(CEILING_PROCESSES), str(CEILING_BATCH)],
                        child_env(), logs, n, corpus.words))
        ceiling_out = json.loads((logs / "a.stdout").read_text(encoding="utf-8"))
        a.detail = f"{ceiling_out['entities']:,} entities"

    ner_env = child_env(ner_models=NER_ALL_GERMAN, ner_processes=str(CEILING_PROCESSES))
    wh_b = work / "wh-b"
    b = add(measure("b", "newsetl run end to end, de_news for de and en, NER_PROCESSES=2",
                    run_cmd(corpus.path, FIRST_BATCH, wh_b), ner_env, logs, n, corpus.words))
    b.detail = check_loaded("b", wh_b, [FIRST_BATCH], n)

    print("[g] canonical DuckDB queries on the warehouse of (b)", flush=True)
    queries, query_values = canonical_queries(wh_b)

    if "e" in steps:
        e1 = add(measure("e1", "re-run of (b): same files, same warehouse",
                         run_cmd(corpus.path, FIRST_BATCH, wh_b), ner_env, logs, n, corpus.words))
        e1.detail = check_loaded("e1", wh_b, [FIRST_BATCH], n)
        unchanged = current_runs(wh_b)[FIRST_BATCH]["files_unchanged"]
        e1.detail += f", {unchanged or 0:,} files unchanged"
        copy = work / "copy" / COPY_BATCH
        copy_under_new_names(corpus, copy)
        e2 = add(measure("e2", f"already-enriched content under new names, batch {COPY_BATCH}",
                         run_cmd(copy, COPY_BATCH, wh_b), ner_env, logs, n, corpus.words))
        e2.detail = check_loaded("e2", wh_b, [COPY_BATCH], n)
        reused = reused_articles((logs / "e2.stderr").read_text(encoding="utf-8", errors="replace"))
        e2.detail += (f", entities of {reused:,} articles from the cache" if reused is not None
                      else ", no enrichment-cache log line")

    if "c" in steps:
        c = add(measure("c", "newsetl run, enrichment off, taskset -c 0 (one core)",
                        ["taskset", "-c", "0", *run_cmd(corpus.path, FIRST_BATCH, work / "wh-c")],
                        child_env(ner_models=NER_OFF), logs, n, corpus.words))
        c.detail = check_loaded("c", work / "wh-c", [FIRST_BATCH], n)

    if "d" in steps:
        d = add(measure("d", "naive: pandas + df.text.apply(nlp(t).ents) + to_parquet",
                        [sys.executable, "-c", NAIVE_CHILD, str(corpus.path), str(MODEL),
                         str(work / "naive.parquet")], child_env(), logs, n, corpus.words))
        naive_out = json.loads((logs / "d.stdout").read_text(encoding="utf-8"))
        d.detail = f"{naive_out['entities']:,} entities"

    if "f" in steps:
        backfill_env = child_env(ner_models=NER_ALL_GERMAN, ner_processes="1")
        for parallel in (1, 2):
            key = f"f{parallel}"
            wh = work / f"wh-{key}"
            f = add(measure(key, f"newsetl backfill of {len(corpus.days)} day folders, "
                                 f"--parallel {parallel}, NER_PROCESSES=1",
                            [newsetl(), "backfill", "--archive", str(corpus.path),
                             "--from", corpus.days[0], "--to", corpus.days[-1],
                             "--parallel", str(parallel), "--warehouse", str(wh), "--no-progress"],
                            backfill_env, logs, n, corpus.words))
            f.detail = check_loaded(key, wh, corpus.days, n)

    if "ner_processes" not in {fld.name for fld in dataclasses.fields(Settings)}:
        notes.append("`NEWSETL_NER_PROCESSES` is not a setting of this code version: it was "
                     "ignored (enrichment ran in one process).")
    elif b.processes < 2:
        notes.append(f"(b) never had more than one process although `NEWSETL_NER_PROCESSES="
                     f"{CEILING_PROCESSES}`: the pipeline did not start spaCy workers for this "
                     "batch (e.g. shards too small for it to start them), so it did its NLP on "
                     "one core while the ceiling used two.")
    result = SizeResult(corpus, runs, queries, query_values, notes)
    (logs / "results.json").write_text(
        json.dumps(dataclasses.asdict(result), indent=2, default=str) + "\n", encoding="utf-8")
    if not keep:
        for path in work.iterdir():
            if path == logs:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    return result


# -- report -------------------------------------------------------------------------------------

def _f(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def machine_info(load: tuple[float, float, float]) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("spacy", "duckdb", "pyarrow", "pandas", "psutil"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "pipeline", "sql"], capture_output=True, text=True,
                               check=True).stdout.strip()
        code = commit + (" + uncommitted changes in pipeline/ or sql/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        code = "unknown"
    meta = json.loads((MODEL / "meta.json").read_text(encoding="utf-8"))
    logical, physical = psutil.cpu_count(), psutil.cpu_count(logical=False)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu,
        "cores": f"{logical} logical, {physical} physical",
        "RAM": f"{psutil.virtual_memory().total / 1024**3:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "spaCy": versions["spacy"],
        "DuckDB": versions["duckdb"],
        "pyarrow": versions["pyarrow"],
        "pandas": versions["pandas"],
        "psutil": versions["psutil"],
        "NER model": f"models/de_news ({meta.get('lang')}_{meta.get('name')} "
                     f"{meta.get('version')})",
        "code": code,
        "load average at start": " / ".join(f"{x:.2f}" for x in load)
                                 + " (1 / 5 / 15 min; anything else running skews the figures)",
    }


def _status(ok: bool | None) -> str:
    return "not measured" if ok is None else "**met**" if ok else "**not met**"


@dataclass(frozen=True)
class Ratios:
    """Each ratio, or None when a step it needs was not run at that size."""

    vs_ceiling: float | None
    vs_naive: float | None
    rerun: float | None
    enriched_copy: float | None
    no_ner_rate: float | None
    parallel: float | None


def ratios(result: SizeResult) -> Ratios:
    r = result.runs

    def of(*keys: str) -> bool:
        return all(k in r for k in keys)

    return Ratios(
        vs_ceiling=r["b"].words_per_s / r["a"].words_per_s if of("a", "b") else None,
        vs_naive=r["b"].words_per_s / r["d"].words_per_s if of("b", "d") else None,
        rerun=r["b"].wall_s / r["e1"].wall_s if of("b", "e1") else None,
        enriched_copy=r["b"].wall_s / r["e2"].wall_s if of("b", "e2") else None,
        no_ner_rate=r["c"].articles_per_s if of("c") else None,
        parallel=r["f2"].articles_per_s / r["f1"].articles_per_s if of("f1", "f2") else None,
    )


def _v(value: float | None, fmt: str, suffix: str = "") -> str:
    return "not run" if value is None else format(value, fmt) + suffix


def _meets(value: float | None, ok: bool) -> str:
    return _status(None if value is None else ok)


STEPS = ("a", "b", "c", "d", "e1", "e2", "f1", "f2")


RUN_STEPS = ("b", "c", "e1", "e2")
"""Single-batch ``newsetl run`` measurements: their peak RSS is what must not grow with N."""


def size_section(result: SizeResult) -> list[str]:
    corpus, runs = result.corpus, result.runs
    langs = ", ".join(f"{v:,} {k}" for k, v in sorted(corpus.articles_by_language.items()))
    # No absolute paths of the measuring machine in the report: a corpus built in another
    # checkout (a worktree) is named by its folder, which says its size and seed.
    where = (corpus.path.relative_to(REPO) if corpus.path.is_relative_to(REPO)
             else Path(CACHE.relative_to(REPO), corpus.path.name))
    out = [f"## N = {corpus.n:,}", "",
           f"Corpus `{where}` (seed {corpus.seed}): {corpus.n:,} articles ({langs}), "
           f"{corpus.words:,} words "
           f"({corpus.words / corpus.n:,.0f} per article), {len(corpus.days)} day folders of "
           f"{corpus.files_per_day:,} files ({corpus.days[0]} to {corpus.days[-1]}).", "",
           "| step | what | wall s | articles/s | words/s | peak RSS MiB | peak PSS MiB | "
           "processes | checked |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for key in (k for k in STEPS if k in runs):
        m = runs[key]
        out.append(f"| {key} | {m.what} | {_f(m.wall_s)} | {_f(m.articles_per_s)} | "
                   f"{_f(m.words_per_s, 0)} | {_f(m.peak_mib, 0)} | {_f(m.peak_pss_mib, 0)} | "
                   f"{m.processes} | {m.detail} |")
    q = result.queries
    out.append(f"| g | canonical DuckDB queries (median of {QUERY_REPEATS}; month "
               f"{result.query_values['month']}, entity {result.query_values['entity']}) | "
               + " / ".join(f"{s:.3f}" for s in q.values()) + " | | | | | | "
               + " / ".join(q) + " |")
    rt = ratios(result)
    out += ["", "Ratios within this run:", "",
            "| ratio | value | target | status |", "| --- | ---: | --- | --- |",
            f"| b/a: end to end vs ceiling (words/s) | {_v(rt.vs_ceiling, '.2f')} | >= "
            f"{TARGET_VS_CEILING} | "
            f"{_meets(rt.vs_ceiling, (rt.vs_ceiling or 0) >= TARGET_VS_CEILING)} |",
            f"| b/d: end to end vs naive pandas (words/s) | {_v(rt.vs_naive, '.2f', 'x')} "
            "| - | - |",
            f"| e: re-run speed-up (b wall / e1 wall) | {_v(rt.rerun, '.1f', 'x')} | >= "
            f"{TARGET_RERUN_SPEEDUP:.0f}x | "
            f"{_meets(rt.rerun, (rt.rerun or 0) >= TARGET_RERUN_SPEEDUP)} |",
            f"| e: already-enriched content speed-up (b wall / e2 wall) | "
            f"{_v(rt.enriched_copy, '.1f', 'x')} | >= {TARGET_RERUN_SPEEDUP:.0f}x | "
            f"{_meets(rt.enriched_copy, (rt.enriched_copy or 0) >= TARGET_RERUN_SPEEDUP)} |",
            f"| c: articles/s without enrichment, one core | {_v(rt.no_ner_rate, ',.0f')} | >= "
            f"{TARGET_NO_NER_RATE:,.0f} | "
            f"{_meets(rt.no_ner_rate, (rt.no_ner_rate or 0) >= TARGET_NO_NER_RATE)} |",
            f"| f: backfill --parallel 2 vs 1 (articles/s) | {_v(rt.parallel, '.2f', 'x')} "
            "| - | - |"]
    for name, seconds in q.items():
        out.append(f"| g: {name} median s | {seconds:.3f} | < {TARGET_QUERY_SECONDS:.0f} s | "
                   f"{_status(seconds < TARGET_QUERY_SECONDS)} |")
    staged = [k for k in RUN_STEPS if k in runs and runs[k].stages]
    if staged:
        names = list(dict.fromkeys(s for k in staged for s in runs[k].stages))
        out += ["", "Where the time of the `newsetl run` steps goes (seconds, from the end of each "
                "stage's `progress` log line; `plan` includes process start-up, `end` the "
                "catalog refresh and exit):", "",
                "| step | " + " | ".join(names) + " |",
                "| --- |" + " ---: |" * len(names)]
        for k in staged:
            out.append(f"| {k} | " + " | ".join(
                _f(runs[k].stages[s]) if s in runs[k].stages else "" for s in names) + " |")
    at_peak = [k for k in STEPS if k in runs and runs[k].peak_at]
    if at_peak:
        out += ["", "Who held the memory at each step's RSS peak (the sampler's timeline is in "
                "`logs/<step>.memory.tsv`; forked workers count the pages they share with the "
                "main process again):", ""]
        out += [f"- {k}: {', '.join(runs[k].peak_at)}" for k in at_peak]
    if result.notes:
        out += ["", *[f"Note: {note}" for note in result.notes]]
    return [*out, ""]


def growth_section(results: Sequence[SizeResult]) -> list[str]:
    sizes = [r.corpus.n for r in results]
    head = "| step | " + " | ".join(f"N={n:,} wall s | N={n:,} peak RSS / PSS MiB"
                                    for n in sizes) + " |"
    out = ["## Growth across sizes", "", head,
           "| --- |" + " ---: | ---: |" * len(sizes)]
    for key in STEPS:
        out.append(f"| {key} | " + " | ".join(
            f"{_f(r.runs[key].wall_s)} | {_f(r.runs[key].peak_mib, 0)} / "
            f"{_f(r.runs[key].peak_pss_mib, 0)}" if key in r.runs else "not run | "
            for r in results) + " |")
    out.append("| g (median s) | " + " | ".join(
        " / ".join(f"{s:.3f}" for s in r.queries.values()) + " | " for r in results) + "|")
    return [*out, ""]


def targets_section(results: Sequence[SizeResult]) -> list[str]:
    """Each target judged at the largest size where the steps it needs were run."""
    def largest(*keys: str) -> SizeResult:
        having = [r for r in results if all(k in r.runs for k in keys)]
        return max(having or results, key=lambda r: r.corpus.n)

    def at(result: SizeResult) -> str:
        return f" (N={result.corpus.n:,})"

    top = max(results, key=lambda r: r.corpus.n)
    n = top.corpus.n
    r_ab, r_e1, r_e2, r_c = largest("a", "b"), largest("b", "e1"), largest("b", "e2"), \
        largest("c")
    vs_ceiling, rerun = ratios(r_ab).vs_ceiling, ratios(r_e1).rerun
    copy, rate = ratios(r_e2).enriched_copy, ratios(r_c).no_ner_rate
    peak = max(top.runs[k].peak_rss for k in RUN_STEPS if k in top.runs)
    peak_pss = max(top.runs[k].peak_pss for k in RUN_STEPS if k in top.runs)
    at_target = next((r for r in results if r.corpus.n == TARGET_PEAK_AT), None)
    peak_ok = (None if at_target is None
               else max(at_target.runs[k].peak_rss for k in RUN_STEPS if k in at_target.runs)
               <= TARGET_PEAK_BYTES)
    smallest = min(results, key=lambda r: r.corpus.n)
    growth = ""
    if smallest is not top:
        small_peak = max(smallest.runs[k].peak_rss for k in RUN_STEPS if k in smallest.runs)
        growth = (f"; x{peak / small_peak:.2f} from N={smallest.corpus.n:,} "
                  f"({small_peak / MIB:,.0f} MiB) for x{n / smallest.corpus.n:.0f} articles")
    query_max = max(top.queries.values())
    return [
        f"## Targets of the issue (each at the largest size where its steps ran; largest N = "
        f"{n:,})", "",
        "| target | measured | status |", "| --- | --- | --- |",
        f"| end to end >= {TARGET_VS_CEILING} x ceiling (b/a, words/s) | "
        f"{_v(vs_ceiling, '.2f')}{at(r_ab)} | "
        f"{_meets(vs_ceiling, (vs_ceiling or 0) >= TARGET_VS_CEILING)} |",
        f"| re-run >= {TARGET_RERUN_SPEEDUP:.0f}x faster than the first run (b/e1) | "
        f"{_v(rerun, '.1f', 'x')}{at(r_e1)} | "
        f"{_meets(rerun, (rerun or 0) >= TARGET_RERUN_SPEEDUP)} |",
        f"| already-enriched content >= {TARGET_RERUN_SPEEDUP:.0f}x faster than the first run "
        f"(b/e2) | {_v(copy, '.1f', 'x')}{at(r_e2)} | "
        f"{_meets(copy, (copy or 0) >= TARGET_RERUN_SPEEDUP)} |",
        f"| without enrichment >= {TARGET_NO_NER_RATE:,.0f} articles/s on one core (c) | "
        f"{_v(rate, ',.0f')}{at(r_c)} | {_meets(rate, (rate or 0) >= TARGET_NO_NER_RATE)} |",
        f"| peak RSS independent of N, <= {TARGET_PEAK_BYTES / 1e9:.1f} GB at "
        f"{TARGET_PEAK_AT:,} (max of b, c, e1, e2, those run) | {peak / MIB:,.0f} MiB at "
        f"N={n:,} (PSS "
        f"{peak_pss / MIB:,.0f} MiB){growth} | "
        f"{_status(peak_ok)}{'' if peak_ok is not None else f' (needs N={TARGET_PEAK_AT:,})'} |",
        f"| canonical DuckDB queries < {TARGET_QUERY_SECONDS:.0f} s (g, median) | "
        f"{query_max:.3f} s (slower of the two) at N={n:,} | "
        f"{_status(query_max < TARGET_QUERY_SECONDS)} |",
        ""]


METHOD = """## Method

- Every step runs in its own child process; wall time is spawn to exit (interpreter start,
  imports and model loads included). Peak RSS is the largest sum of RSS over the child's
  process tree, sampled with psutil every 0.2 s: forked workers (spaCy `n_process`, backfill
  `--parallel`) share copy-on-write pages that the sum counts once per process, so it is an
  upper bound on physical memory; peak PSS (sampled alongside) splits shared pages between
  their processes: the tree's physical footprint. A peak shorter than 0.2 s can be missed.
  The RSS target is judged on the RSS sum, as specified.
- words/s = the corpus's words (teaser + body, `re.findall(r"\\w+")`) / wall s for every row,
  so every ratio of rates is an inverse ratio of wall times. articles/s = corpus articles / wall s.
- (a) feeds spaCy what enrichment feeds it (`pipeline/enrich.py`: the body{teaser}), parsed by
  the project's text-dump parser; the model is loaded as enrichment loads it
  (`pipeline.enrich.load_pipeline`: sentencizer added, gazetteer patterns tokenised without
  running the NER over them, 3 s instead of `spacy.load`'s 7.5 s here), so b/a measures what
  the pipeline adds around `nlp.pipe`. (d) uses plain `spacy.load`, as a user would.
- (b), (e), (f) set `NEWSETL_NER_MODELS={ner}`: the English fifth of the corpus goes
  through the same German model as in (a), so the pipeline does the same NLP work as the
  ceiling (English entities from a German model are not meaningful; this measures speed).
- (d) is what a user would write; its text is the whole file (date line included). The
  literal tuples of `e.text, e.label_, e.start_char, e.end_char` cannot be written by
  `to_parquet` (pyarrow: "Expected bytes, got a 'int' object"), so the step also runs the one
  line that makes them records.
- (e) re-runs (b) on the same warehouse (every file unchanged), then copies every article byte
  for byte under a new file name (another source id, so another `article_id`) into one folder
  run as batch {copy} into the same warehouse.
- (f) backfills the corpus's day folders into fresh warehouses with `NEWSETL_NER_PROCESSES=1`.
- (g) opens `news.duckdb` read-only for each of 5 runs (connect, query, fetch, close) after (b);
  the month and entity literals of the example files are replaced by the warehouse's top month
  and entity (by mentions).
- With `--full-up-to N`, sizes above N run only `--large-steps` (default (b), (e), (c); (g)
  always): the memory and query targets are judged there; each ratio comes from the largest
  size that ran its steps (the targets table names the size of each figure).
- No NEWSETL_* variable of the calling shell reaches a child; logs of every step are kept in
  `build/bench/run-<N>-<seed>/logs/`.
"""


def report(results: Sequence[SizeResult], command: str, ceiling_text: str,
           load: tuple[float, float, float]) -> str:
    info = machine_info(load)
    lines = ["# Throughput and memory", "",
             f"`{command}` ({info['date']}). Produced by `bench/throughput.py`; "
             "`make bench` runs it (N = 10,000).", "",
             "## Machine", "", "| | |", "| --- | --- |",
             *[f"| {k} | {v} |" for k, v in info.items()], ""]
    for result in results:
        lines += size_section(result)
    if len(results) > 1:
        lines += growth_section(results)
    lines += targets_section(results)
    lines.append(METHOD.format(teaser=" and the teaser" if ceiling_text == "teaser+body" else "",
                               ner=NER_ALL_GERMAN.replace(" ", ""), copy=COPY_BATCH))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="corpus size (without --sizes)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated corpus sizes, e.g. 1000,10000 (overrides --n)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--ceiling-text", choices=("body", "teaser+body"), default="body",
                        help="what (a) feeds spaCy (default: the body, as enrichment does)")
    parser.add_argument("--full-up-to", type=int, default=None, metavar="N",
                        help="run every step up to N articles; larger sizes run only "
                             "--large-steps (default: every step at every size)")
    parser.add_argument("--large-steps", default="b,e,c", metavar="STEPS",
                        help="step groups above --full-up-to (default b,e,c; b and g always "
                             "run; a, c, d, e = e1+e2, f = f1+f2)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the warehouses of each size under build/bench/run-N-SEED")
    parser.add_argument("--report-from", default=None, metavar="SIZES",
                        help="measure nothing: rebuild the report from the saved results of "
                             "these sizes (build/bench/run-N-SEED/logs/results.json)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    sizes = ([int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
             if args.sizes else [args.n])
    command = "python -m bench.throughput " + " ".join(sys.argv[1:])
    load = os.getloadavg()
    if load[0] > 0.5:
        print(f"warning: load average {load[0]:.2f} before the benchmark: other work on this "
              "machine will slow the measurements down", flush=True)
    if args.report_from:
        results = [load_result(CACHE / f"run-{int(n)}-{args.seed}" / "logs" / "results.json")
                   for n in args.report_from.split(",")]
        command = f"python -m bench.throughput --report-from {args.report_from}"
    else:
        large = frozenset(args.large_steps.replace(",", "")) | {"b"}
        results = [bench_size(n, args.seed, args.ceiling_text, args.keep,
                              ALL_STEPS if args.full_up_to is None or n <= args.full_up_to
                              else large)
                   for n in sizes]
    text = report(results, command.strip(), args.ceiling_text, load)
    if args.out.is_file():  # bench/archive_age.py's section stays (it has its own command)
        old = args.out.read_text(encoding="utf-8")
        for kept in re.finditer(r"<!-- (archive-age[a-z-]*):begin -->.*?<!-- \1:end -->\n?",
                                old, re.S):
            text = text.rstrip("\n") + "\n\n" + kept.group(0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
