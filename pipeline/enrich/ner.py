"""Enrichment stage: named entities with spaCy, one pipeline per language.

Pipelines are loaded once per process and cached (a worker enriching many shards pays the load
once). Each language's pipeline comes from ``Settings.ner_models``; a language without a model
gets no entities, and the log says how many articles that concerned.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    import pyarrow as pa

LOGGER = logging.getLogger(__name__)
NO_MODEL = {"", "none", "off"}


class ModelNotFoundError(RuntimeError):
    """A configured NER model cannot be loaded."""


def resolve_model(spec: str, models_dir: Path) -> str | None:
    """A model spec is ``none``, a folder (absolute or under ``models_dir``) or a package name."""
    if spec.strip().lower() in NO_MODEL:
        return None
    path = Path(spec)
    if path.is_absolute():
        return str(path)
    candidate = models_dir / spec
    if candidate.exists():
        return str(candidate)
    return spec


@lru_cache(maxsize=8)
def load_pipeline(location: str) -> Any:
    """Load a spaCy pipeline for NER only, adding a sentencizer when it has no sentence source."""
    import spacy

    import pipeline.enrich.nounfilter  # noqa: F401  (registers the German pipeline's filter)
    rulers = _entity_rulers(location)
    try:
        nlp = spacy.load(location, exclude=["lemmatizer", "tagger", "morphologizer",
                                            "attribute_ruler", *rulers])
        for name, after in rulers.items():
            _load_ruler(nlp, location, name, after)
    except OSError as exc:
        raise ModelNotFoundError(
            f"NER model {location!r} cannot be loaded ({exc}); set NEWSETL_NER_MODELS "
            "(e.g. de=/path/to/model) or 'none' for a language") from exc
    if not any(nlp.has_pipe(name) for name in ("parser", "senter", "sentencizer")):
        nlp.add_pipe("sentencizer", first=True)
    nlp.max_length = max(nlp.max_length, 2_000_000)
    LOGGER.info("loaded NER pipeline %s (%s %s) with %s", location, nlp.meta.get("name"),
                nlp.meta.get("version"), nlp.pipe_names)
    return nlp


def _entity_rulers(location: str) -> dict[str, str | None]:
    """Entity-ruler components of a pipeline folder, with the component each follows."""
    config = Path(location) / "config.cfg"
    if not config.is_file():
        return {}
    from spacy.util import load_config

    cfg = load_config(config)
    names = list(cfg["nlp"]["pipeline"])
    return {name: (names[i - 1] if i else None) for i, name in enumerate(names)
            if cfg["components"].get(name, {}).get("factory") == "entity_ruler"}


def _load_ruler(nlp: Any, location: str, name: str, after: str | None) -> None:
    """Add a saved entity ruler with only the tokenizer running over its phrase patterns.

    spaCy's ruler turns each phrase pattern into a Doc with every component before it enabled,
    so loading a 30,000-name gazetteer placed after the NER would run the NER over every name
    (7 s of the model's 7.5 s load here); with the other components disabled it takes a
    fraction of a second and matches the same (phrase patterns match on ORTH).
    """
    from spacy.util import load_config

    cfg = dict(load_config(Path(location) / "config.cfg")["components"][name])
    cfg.pop("factory", None)
    cfg.pop("scorer", None)
    with nlp.select_pipes(disable=nlp.pipe_names):
        ruler = nlp.add_pipe("entity_ruler", name=name, config=cfg,
                             after=after if after in nlp.pipe_names else None)
        ruler.from_disk(Path(location) / name)


def _label(meta: Mapping[str, Any]) -> str:
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}-{meta.get('version', '0')}"


def model_label(nlp: Any) -> str:
    """``<lang>_<name>-<version>``: what ``entities.model`` and ``articles.ner_model`` record."""
    return _label(nlp.meta)


def label_of(location: str) -> str:
    """The label of the pipeline at ``location``, from its meta.json when it is a folder, so a
    shard whose entities all come from the cache never loads the model."""
    meta = Path(location) / "meta.json"
    if meta.is_file():
        return _label(json.loads(meta.read_text(encoding="utf-8")))
    return model_label(load_pipeline(location))


def cpu_cores() -> int:
    """Cores this process may run on (``taskset``, container CPU sets), not the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def processes(setting: int, documents: int, batch_size: int) -> int:
    """``n_process`` for ``nlp.pipe``: ``setting`` (0: one per core), but one for inputs too small
    to feed several workers (each worker gets whole batches)."""
    wanted = setting if setting > 0 else cpu_cores()
    return 1 if documents < 4 * batch_size else max(1, wanted)


def known_names(nlp: Any) -> frozenset[str]:
    """Names of the pipeline's gazetteer (an entity ruler), the evidence for ``norm``."""
    cached: frozenset[str] | None = getattr(nlp, "_newsetl_known_names", None)
    if cached is not None:
        return cached
    names: set[str] = set()
    for pipe_name in nlp.pipe_names:
        pipe = nlp.get_pipe(pipe_name)
        if pipe.__class__.__name__ == "EntityRuler":
            names.update(p["pattern"] for p in pipe.patterns if isinstance(p["pattern"], str))
    frozen = frozenset(names)
    nlp._newsetl_known_names = frozen
    return frozen


Mention = tuple[str, str, int, int, int]
"""An entity as the model found it: text, label, start_char, end_char, sentence_index."""


def mentions_of(doc: Any) -> list[Mention]:
    """The entities of a spaCy Doc, with the index of the sentence each is in."""
    sent_starts = [sent.start_char for sent in doc.sents]
    out: list[Mention] = []
    sent_index = 0
    for ent in doc.ents:
        while sent_index + 1 < len(sent_starts) and sent_starts[sent_index + 1] <= ent.start_char:
            sent_index += 1
        out.append((ent.text, ent.label_, ent.start_char, ent.end_char, sent_index))
    return out


@dataclass(frozen=True)
class NerFailure:
    """What the NER raised on one text (sent back from a worker instead of its mentions); the
    article becomes an ``internal_error`` reject at publish, the others go on."""

    error: str
    message: str


def _ner_task(location: str, texts: list[str],
              batch_size: int) -> list[list[Mention] | NerFailure]:
    """One task of a worker process (the pipeline is already loaded, inherited by fork), or one
    chunk when there are no workers.

    The memory zone frees the strings and lexemes the task's texts added to the vocabulary:
    without it a worker grows by every new word it ever saw (+14 MiB per 2,000 articles here),
    which made peak memory grow with the batch size.
    """
    nlp = load_pipeline(location)
    try:
        with nlp.memory_zone():
            return [mentions_of(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]
    except Exception as exc:  # one text broke the batch: find it, keep the others
        LOGGER.warning("NER failed on a batch of %d texts (%s: %s): retrying one by one",
                       len(texts), type(exc).__name__, exc)
    out: list[list[Mention] | NerFailure] = []
    for text in texts:
        try:
            with nlp.memory_zone():
                out.append(mentions_of(nlp(text)))
        except Exception as exc:
            LOGGER.error("NER failed on a text of %d characters: %s: %s", len(text),
                         type(exc).__name__, exc, exc_info=exc)
            out.append(NerFailure(type(exc).__name__, str(exc)[:500]))
    return out


K = TypeVar("K")

TASK_BATCHES: Final = 4
"""``nlp.pipe`` batches per worker task: tasks long enough that handing them out costs little."""


def ner_stream(location: str, items: Iterable[tuple[K, str]], workers: int,
               batch_size: int) -> Iterator[tuple[K, list[Mention] | NerFailure]]:
    """Mentions of each ``(key, text)``, in input order, streamed.

    With ``workers`` > 1, one pool of forked processes serves the whole stream (started once
    per call, so once per batch in ``newsetl run``): each task is ``TASK_BATCHES`` batches of
    ``batch_size`` texts, at most two tasks per worker are in flight (memory stays flat however
    long the stream), and workers send back plain tuples rather than Docs. The pipeline is
    loaded here first, so the workers share its memory instead of loading it again.
    """
    chunks = _chunks(items, batch_size * (TASK_BATCHES if workers > 1 else 1))
    first = next(chunks, None)
    if first is None:  # nothing to do: the pipeline is not even loaded
        return
    chunks = itertools.chain([first], chunks)
    load_pipeline(location)  # here first: forked workers share its memory
    if workers <= 1:
        for chunk in chunks:
            found = _ner_task(location, [t for _, t in chunk], batch_size)
            yield from zip((key for key, _ in chunk), found, strict=True)
        return
    import multiprocessing

    collect_before_fork()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque[tuple[list[K], Any]] = deque()
        for chunk in chunks:
            pending.append(([k for k, _ in chunk],
                            pool.apply_async(_ner_task, (location, [t for _, t in chunk],
                                                         batch_size))))
            if len(pending) >= 2 * workers:
                keys, result = pending.popleft()
                yield from zip(keys, result.get(), strict=True)
        while pending:
            keys, result = pending.popleft()
            yield from zip(keys, result.get(), strict=True)


def collect_before_fork() -> None:
    """Collect garbage before forking workers. A forked child runs the collector soon after
    it starts; unreachable objects of libraries that are not fork-safe (a DuckDB connection
    left in a reference cycle) then crashed it with a segmentation fault, when the parent had
    used them before, as a long-lived process (tests, a backfill worker) does."""
    import gc

    gc.collect()


def _chunks(items: Iterable[tuple[K, str]], size: int) -> Iterator[list[tuple[K, str]]]:
    chunk: list[tuple[K, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def entity_rows(article_id: str, fields: Sequence[tuple[str, Sequence[Mention]]], label: str,
                known: Collection[str]) -> list[dict[str, Any]]:
    """``entities`` rows (without run_id) of one article from the mentions of each of its
    fields (title, teaser, body; offsets into that field), with names normalised over all
    of them: the headline's ``Blair`` takes the body's ``Tony Blair``."""
    from pipeline.enrich.entitynorm import normalise_mentions

    flat = [(field, m) for field, mentions in fields for m in mentions]
    norms = normalise_mentions([(m[0], m[1]) for _, m in flat], known)
    return [{"article_id": article_id, "text": text, "label": ent_label, "norm": norm,
             "start_char": start, "end_char": end, "sentence_index": sentence, "model": label,
             "field": field}
            for (field, (text, ent_label, start, end, sentence)), norm in zip(flat, norms,
                                                                               strict=True)]


EntityCache = Callable[[str, Sequence[str]], tuple[set[str], "pa.Table"]]
"""``(model label, content hashes) -> (hashes found, their entity rows)`` for articles already
enriched by that model version: the rows (a ``content_hash`` column instead of ``article_id``)
stay an Arrow table; a hash found with no rows is an article enriched with no entities."""
