"""Enrichment of articles: named entities with spaCy (``ner``: loading, streaming over worker
processes) and their normalised names (``entitynorm``). More enrichment tasks go here."""
