"""Enrichment stage: named entities with spaCy, one pipeline per language.

Pipelines are loaded once per process and cached (a worker enriching many shards pays the load
once). Each language's pipeline comes from ``Settings.ner_models``; a language without a model
gets no entities, and the log says how many articles that concerned.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

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

    try:
        nlp = spacy.load(location, exclude=["lemmatizer", "tagger", "morphologizer",
                                            "attribute_ruler"])
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


def model_label(nlp: Any) -> str:
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}-{meta.get('version', '0')}"


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


def entities_for_docs(nlp: Any, items: list[tuple[str, str]], batch_size: int,
                      max_chars: int, on_articles: Callable[[int], None] | None = None,
                      ) -> Iterator[dict[str, Any]]:
    """Entity rows for ``(article_id, body)`` pairs; offsets index into the body as stored.

    ``on_articles(n)`` hears of every ``batch_size`` articles done (and the rest at the end).
    """
    from pipeline.entitynorm import normalise_mentions

    label = model_label(nlp)
    known = known_names(nlp)
    texts = (body[:max_chars] for _, body in items)
    pending = 0
    for (article_id, _), doc in zip(items, nlp.pipe(texts, batch_size=batch_size), strict=True):
        pending += 1
        if on_articles is not None and pending >= batch_size:
            on_articles(pending)
            pending = 0
        sent_starts = [sent.start_char for sent in doc.sents]
        sent_index = 0
        ents = list(doc.ents)
        norms = normalise_mentions([(ent.text, ent.label_) for ent in ents], known)
        for ent, norm in zip(ents, norms, strict=True):
            while (sent_index + 1 < len(sent_starts)
                   and sent_starts[sent_index + 1] <= ent.start_char):
                sent_index += 1
            yield {
                "article_id": article_id,
                "text": ent.text,
                "label": ent.label_,
                "norm": norm,
                "start_char": ent.start_char,
                "end_char": ent.end_char,
                "sentence_index": sent_index,
                "model": label,
            }
    if on_articles is not None and pending:
        on_articles(pending)


def extract_entities(articles: pa.Table, models: Mapping[str, str], models_dir: Path,
                     batch_size: int, max_chars: int,
                     on_articles: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Entity rows for every article whose language has a configured pipeline;
    ``on_articles(n)`` hears of articles done, those without a pipeline included."""
    by_language: dict[str, list[tuple[str, str]]] = {}
    for article_id, body, language in zip(articles.column("article_id").to_pylist(),
                                          articles.column("body").to_pylist(),
                                          articles.column("language").to_pylist(), strict=True):
        by_language.setdefault(language or "", []).append((str(article_id), str(body)))
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for language, items in sorted(by_language.items()):
        location = resolve_model(models.get(language, "none"), models_dir) if language else None
        if location is None:
            skipped[language or "unknown"] += len(items)
            if on_articles is not None:
                on_articles(len(items))
            continue
        rows.extend(entities_for_docs(load_pipeline(location), items, batch_size, max_chars,
                                      on_articles))
    if skipped:
        LOGGER.info("no NER model for %s articles: %s", sum(skipped.values()),
                    ", ".join(f"{k}={v}" for k, v in sorted(skipped.items())))
    return rows
