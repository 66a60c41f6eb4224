"""One typed settings object for every stage, built in layers.

Precedence, lowest first: built-in defaults, an optional TOML file (``NEWSETL_CONFIG`` or
``./newsetl.toml``, table ``[newsetl]``), environment variables ``NEWSETL_<FIELD>``, then explicit
overrides (CLI flags, DAG params). This module is the only place that reads the environment.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "NEWSETL_"


class SettingsError(ValueError):
    """A setting has a value that is not allowed (or is unknown): the message names the
    setting, where it came from, the value and what is allowed. Deterministic: retrying the
    same run cannot help."""


@dataclass(frozen=True)
class Settings:
    """Everything a stage may depend on besides its inputs and the batch date."""

    warehouse: Path = Path("data/warehouse")
    """Root of the Parquet warehouse and of the ``news.duckdb`` catalog."""
    landing: Path = Path("data/landing")
    """Landing folder: ``<landing>/<YYYY-MM-DD>/...`` holds the dumps that arrived that day."""
    sql_dir: Path = REPO_ROOT / "sql"
    """Folder of the catalog's view definitions (``sql/views/*.sql``)."""
    models_dir: Path = REPO_ROOT / "models"
    """Where relative NER model paths are resolved."""
    ner_models: Mapping[str, str] = field(
        default_factory=lambda: {"de": "de_news", "en": "en_news"})
    """Language (ISO 639-1) -> spaCy pipeline: a folder (relative to ``models_dir`` or absolute),
    an installed package name, or ``none``. A language without an entry gets no entities."""
    ner_batch_size: int = 16
    """Documents per ``nlp.pipe`` batch. The CNN's working memory grows with it (one process,
    ~360-word articles: +130 MiB at 16, +240 at 32, +470 at 64) while its speed does not (16 was
    as fast as 64 here), so small batches keep workers lean."""
    parse_processes: int = 0
    """Processes parsing the shards of a batch in ``newsetl run`` / backfill days (0: one per
    CPU core; a single shard is parsed in this process). Airflow maps shards to tasks instead."""
    ner_processes: int = 0
    """Processes ``nlp.pipe`` runs in (``n_process``); 0: one per CPU core in ``newsetl run``,
    but 1 per enrich task in Airflow (tasks run side by side: see the README's Celery sizing
    rule). Inputs of fewer than four batches run in this process (starting workers would cost
    more than it saves)."""
    shard_files: int = 200
    """Files per parse shard; shards are the unit of parallel work (Airflow mapped tasks)."""
    max_shards: int = 32
    """Upper bound on shards per batch, so a huge backfill day does not map thousands of tasks."""
    row_group_rows: int = 16_384
    """Rows per Parquet row group: large enough to compress well, small enough for DuckDB to scan
    one file with several threads."""
    max_file_rows: int = 1_000_000
    """Rows per published Parquet file before a new file is started."""
    max_record_bytes: int = 5_000_000
    """A record (text dump, HTML page, JSON line, WARC response) larger than this is rejected
    rather than loaded (guards memory)."""
    max_document_bytes: int = 200_000_000
    """Largest whole document read at once for formats that need it (JSON arrays, feeds)."""
    formats: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per-source reading options by file-name glob (matched against the file and archive
    member path): ``format`` (force a reader), ``delimiter``, ``quotechar``, ``header``
    (yes/no/auto), ``columns`` (names of header-less CSV columns) and field mappings
    ``<field> = "key1|key2"`` for body, title, teaser, published, modified, url, authors,
    language, site_name, section, source_id. In TOML: ``[newsetl.formats."*.csv"]``; in the
    environment: JSON."""
    max_body_chars: int = 1_000_000
    """Longest body handed to spaCy; longer bodies are enriched up to this length only."""
    date_floor: int = 1990
    """Earliest plausible publication year: an older date is flagged (``published_flag``) and
    not used as the publication date."""
    quality_gate: bool = True
    """Run the quality checks before publishing (``pipeline/warehouse/quality.py``); off only
    for tests that feed random bytes."""
    quality_thresholds: Mapping[str, str] = field(default_factory=dict)
    """Overrides of the quality thresholds by check name (defaults in
    ``pipeline/warehouse/quality.py``)."""
    quality_override: str = ""
    """Comma-separated checks allowed to fail for this run (``newsetl run --allow``)."""
    reuse_unchanged: bool = True
    """On a re-run of a batch, carry over the rows of files identical to its previous run instead
    of re-reading them (``false``: re-process every file, e.g. after a reader fix)."""
    reuse_known_files: bool = True
    """A file whose bytes an earlier published batch already parsed (same SHA-256, a text dump
    that gave one article) is not parsed again: its row is taken over with the columns that
    depend on the file name and the batch recomputed (``false``: parse every file)."""
    staging_ttl_hours: int = 24
    """Staging folders of dead runs older than this are removed when a new run is planned."""
    keep_previous: bool = True
    """Keep the version a publish replaced (for rollback and for readers still scanning it)."""
    fsync: bool = True
    """Flush a batch's published files and folders to disk before its swap and the swapped
    links after it, so a power loss cannot leave a pointer to files that never reached the
    disk (``false``: only for throwaway warehouses, e.g. benchmarks)."""
    schedule: str = "0 2 * * *"
    """Cron of the nightly DAG; its data interval (one day by default) is the batch."""
    code_version: str = ""
    """Recorded with every run; empty means the package version."""

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from defaults, config file, environment and ``overrides``; every
        value is validated (``SettingsError`` names the setting, its source and the rule)."""
        return cls.load_with_sources(overrides, environ)[0]

    @classmethod
    def load_with_sources(cls, overrides: Mapping[str, Any] | None = None,
                          environ: Mapping[str, str] | None = None
                          ) -> tuple[Settings, dict[str, str]]:
        """``load``, and where each value came from (``default``, ``<file> [newsetl]``,
        ``NEWSETL_X``, ``override``): what ``newsetl config`` prints."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        config_path = env.get(ENV_PREFIX + "CONFIG")
        candidate = Path(config_path) if config_path else Path("newsetl.toml")
        if candidate.is_file():
            with candidate.open("rb") as fh:
                try:
                    table = tomllib.load(fh).get("newsetl", {})
                except tomllib.TOMLDecodeError as exc:
                    raise SettingsError(f"config file {candidate}: not valid TOML: {exc}") from exc
            if not isinstance(table, Mapping):
                raise SettingsError(f"config file {candidate}: [newsetl] must be a table")
            for key in table:
                _check_known(str(key), f"{candidate} [newsetl]")
            values.update(table)
            sources.update(dict.fromkeys(table, f"{candidate} [newsetl]"))
        elif config_path:
            raise SettingsError(f"NEWSETL_CONFIG points to a missing file: {config_path}")
        for name in env:
            if name.startswith(ENV_PREFIX) and name not in NON_SETTING_VARIABLES:
                _check_known(name[len(ENV_PREFIX):].lower(), name)
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
                sources[f.name] = ENV_PREFIX + f.name.upper()
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        values.update(given)
        sources.update(dict.fromkeys(given, "override"))
        settings = cls.from_mapping(values, sources)
        return settings, {f.name: sources.get(f.name, "default") for f in dataclasses.fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any],
                     sources: Mapping[str, str] | None = None) -> Settings:
        """Coerce loosely typed values (strings from env/TOML/XCom) to the declared types and
        validate them: ``SettingsError`` for an unknown name or a value out of its rules."""
        sources = sources or {}
        for name in values:
            _check_known(name, sources.get(name, "settings"))
        defaults = cls()
        coerced = {}
        for name, value in values.items():
            where = sources.get(name, "")
            try:
                coerced[name] = _coerce(name, value, getattr(defaults, name))
            except SettingsError as exc:
                raise SettingsError(_located(str(exc), where)) from None
        settings = cls(**coerced)
        settings.validate(sources)
        return settings

    def validate(self, sources: Mapping[str, str] | None = None) -> None:
        """Every rule of ``RULES`` and the cross-field ones; the first broken one is raised."""
        sources = sources or {}
        problems: list[str] = []
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                problems.append(_located(
                    f"setting {name!r} = {value!r} is out of range: allowed {low:,} to "
                    f"{high:,}", sources.get(name, "")))
        if self.max_file_rows < self.row_group_rows:
            problems.append(f"setting 'max_file_rows' ({self.max_file_rows:,}) must be at "
                            f"least 'row_group_rows' ({self.row_group_rows:,})")
        if self.max_document_bytes < self.max_record_bytes:
            problems.append(f"setting 'max_document_bytes' ({self.max_document_bytes:,}) must "
                            f"be at least 'max_record_bytes' ({self.max_record_bytes:,})")
        for check in (problem for problem in (
                _check_schedule(self.schedule), _check_ner_models(self.ner_models),
                _check_quality(self.quality_thresholds, self.quality_override),
                _check_formats(self.formats)) if problem):
            name = check.split("'", 2)[1] if check.startswith("setting '") else ""
            problems.append(_located(check, sources.get(name, "")))
        if problems:
            raise SettingsError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, e.g. to hand settings to another process."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = (str(value) if isinstance(value, Path)
                           else json.loads(json.dumps(value)) if isinstance(value, Mapping)
                           else value)
        return out

    def resolved_code_version(self) -> str:
        if self.code_version:
            return self.code_version
        from pipeline import __version__

        return __version__


RANGES: dict[str, tuple[int, int]] = {
    "ner_batch_size": (1, 4096),
    "parse_processes": (0, 256),
    "ner_processes": (0, 256),
    "shard_files": (1, 1_000_000),
    "max_shards": (1, 10_000),
    "row_group_rows": (100, 10_000_000),
    "max_file_rows": (100, 1_000_000_000),
    "max_record_bytes": (1_000, 2_000_000_000),
    "max_document_bytes": (1_000, 20_000_000_000),
    "max_body_chars": (100, 100_000_000),
    "date_floor": (1000, 2100),
    "staging_ttl_hours": (1, 24 * 365),
}
"""Allowed ranges of the integer settings: a 0 there was a ``ZeroDivisionError``, a pyarrow
error or an empty batch published with exit 0."""

NON_SETTING_VARIABLES = frozenset({ENV_PREFIX + "CONFIG"})
"""``NEWSETL_*`` variables that are not settings; any other unknown one is an error."""
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _located(message: str, where: str) -> str:
    return f"{message} (from {where})" if where and where != "override" else message


def _check_known(name: str, where: str) -> None:
    """An unknown setting is an error naming the closest known one (``NEWSETL_SHARDFILES``)."""
    import difflib

    known = [f.name for f in dataclasses.fields(Settings)]
    if name in known:
        return
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if k.replace("_", "") == name.lower().replace("_", "")]
    hint = f"; did you mean {close[0]!r} ({ENV_PREFIX}{close[0].upper()})?" if close else ""
    raise SettingsError(f"unknown setting {name!r} (from {where}){hint}")


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, Path):
        if not isinstance(value, str | os.PathLike) or not str(value):
            raise SettingsError(f"setting {name!r} must be a path, got {value!r}")
        return Path(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingsError(f"setting {name!r} must be a boolean (true/false, yes/no, on/off, "
                            f"1/0), got {value!r}")
    if isinstance(default, int):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise SettingsError(f"setting {name!r} must be an integer, got {value!r}")
        try:
            return int(str(value).replace("_", "")) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {name!r} must be an integer, got {value!r}") from None
    if isinstance(default, Mapping):
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise SettingsError(f"setting {name!r}: not valid JSON: {exc}") from None
            else:
                return _parse_mapping(name, value)
        if not isinstance(value, Mapping):
            raise SettingsError(f"setting {name!r} must be a table, got {value!r}")
        return {str(k): ({str(k2): str(v2) for k2, v2 in v.items()} if isinstance(v, Mapping)
                         else str(v)) for k, v in value.items()}
    return str(value)


def _parse_mapping(name: str, text: str) -> dict[str, str]:
    """Parse ``de=de_news,en=none`` (the environment-variable form of a mapping)."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"setting {name!r}: expected key=value pairs, got {item!r}")
        out[key.strip()] = val.strip()
    return out


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
                ("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = {3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                   "dec"), 4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}
_CRON_PRESETS = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly",
                 "@annually"}


def _check_schedule(schedule: str) -> str | None:
    """A five-field cron expression (or a preset), checked field by field."""
    text = schedule.strip()
    if text.lower() in _CRON_PRESETS:
        return None
    parts = text.split()
    if len(parts) != 5:
        return (f"setting 'schedule' = {schedule!r} is not a cron expression: expected five "
                "fields (minute hour day-of-month month day-of-week), e.g. '0 2 * * *'")
    for index, (part, (what, low, high)) in enumerate(zip(parts, _CRON_FIELDS, strict=True)):
        for item in part.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"setting 'schedule' = {schedule!r}: bad step {step!r} in the {what}"
            if base == "*":
                continue
            for bound in base.split("-", 1):
                names = _CRON_NAMES.get(index, ())
                number = (names.index(bound.lower()) + (index == 3) if bound.lower() in names
                          else int(bound) if bound.isdigit() else None)
                if number is None or not low <= number <= high:
                    return (f"setting 'schedule' = {schedule!r}: {bound!r} is not a valid "
                            f"{what} ({low}-{high})")
    return None


def _check_ner_models(models: Mapping[str, str]) -> str | None:
    for language, spec in models.items():
        if not (2 <= len(language) <= 3 and language.isalpha() and language.islower()):
            return (f"setting 'ner_models': {language!r} is not a language code (ISO 639-1, "
                    "e.g. de, en)")
        if not str(spec).strip():
            return (f"setting 'ner_models': no model for {language!r} (a folder, a package "
                    "name, or none)")
    return None


def _check_quality(thresholds: Mapping[str, str], override: str) -> str | None:
    from pipeline.warehouse.quality import DEFAULT_THRESHOLDS

    checks = sorted(DEFAULT_THRESHOLDS)
    for name, value in thresholds.items():
        if name not in DEFAULT_THRESHOLDS:
            return (f"setting 'quality_thresholds': unknown check {name!r}; checks are "
                    f"{', '.join(checks)}")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not number >= 0:  # NaN too
            return (f"setting 'quality_thresholds': {name} = {value!r} is not a number >= 0")
    for name in filter(None, (c.strip() for c in override.split(","))):
        if name not in DEFAULT_THRESHOLDS:
            return (f"setting 'quality_override': unknown check {name!r}; checks are "
                    f"{', '.join(checks)}")
    return None


def _check_formats(formats: Mapping[str, Mapping[str, str]]) -> str | None:
    from pipeline.ingest.base import FormatOptions

    for pattern, options in formats.items():
        if not isinstance(options, Mapping):
            return f"setting 'formats': {pattern!r} must map to a table of options"
        try:
            FormatOptions.parse(options, f"formats.{pattern!r}")
        except ValueError as exc:
            return f"setting 'formats': {exc}"
    return None
