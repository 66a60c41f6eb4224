"""Run a batch: ``plan`` (hash, carry over, shard), ``parse`` (per shard), ``enrich`` (per shard,
with the entity cache), ``publish`` (compact, deduplicate, gate, swap), ``run`` (all of them in
this process, with worker pools) and ``backfill`` (many days). Orchestration only: the rules of
reading and parsing live in ``ingest`` and ``transform``, storage in ``warehouse``."""
