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
    ner_models: Mapping[str, str] = field(default_factory=lambda: {"de": "de_news"})
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
    """Processes ``nlp.pipe`` runs in (``n_process``); 0: one per CPU core. Inputs of fewer than
    four batches run in this process (starting workers would cost more than it saves)."""
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
    """Run the quality checks before publishing (``pipeline/quality.py``); off only for tests
    that feed random bytes."""
    quality_thresholds: Mapping[str, str] = field(default_factory=dict)
    """Overrides of the quality thresholds by check name (defaults in pipeline/quality.py)."""
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
    schedule: str = "0 2 * * *"
    """Cron of the nightly DAG; its data interval (one day by default) is the batch."""
    code_version: str = ""
    """Recorded with every run; empty means the package version."""

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from defaults, config file, environment and ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_path = env.get(ENV_PREFIX + "CONFIG")
        candidate = Path(config_path) if config_path else Path("newsetl.toml")
        if candidate.is_file():
            with candidate.open("rb") as fh:
                values.update(tomllib.load(fh).get("newsetl", {}))
        elif config_path:
            raise FileNotFoundError(f"NEWSETL_CONFIG points to a missing file: {config_path}")
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Coerce loosely typed values (strings from env/TOML/XCom) to the declared types."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        defaults = cls()
        return cls(**{name: _coerce(name, value, getattr(defaults, name))
                      for name, value in values.items()})

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


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, Path):
        return Path(value)
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return bool(value)
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"setting {name!r} must be an integer, got {value!r}") from exc
    if isinstance(default, Mapping):
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                value = json.loads(value)
            else:
                return _parse_mapping(name, value)
        if not isinstance(value, Mapping):
            raise ValueError(f"setting {name!r} must be a table, got {value!r}")
        return {str(k): ({str(k2): str(v2) for k2, v2 in v.items()} if isinstance(v, Mapping)
                         else str(v)) for k, v in value.items()}
    return str(value)


def _parse_mapping(name: str, text: str) -> dict[str, str]:
    """Parse ``de=de_news,en=none`` (the environment-variable form of a mapping)."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"setting {name!r}: expected key=value pairs, got {item!r}")
        out[key.strip()] = val.strip()
    return out
