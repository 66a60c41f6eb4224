"""The stage functions of one batch, where the DAG, the CLI and the tests call them.

A thin re-export of :mod:`pipeline.batch` (plan -> parse -> enrich -> publish, and ``run_batch``
for all of them in one process): the entry points keep their import path while the code lives
in its package.
"""

from pipeline.batch.common import BatchPlan, PublishError, current_run, plan_of_shard
from pipeline.batch.enrich import enrich_shard, enrich_shards
from pipeline.batch.maintain import compact_closed, refresh_catalog
from pipeline.batch.parse import parse_shard
from pipeline.batch.plan import input_fingerprint, plan_batch, remove_stale_staging
from pipeline.batch.publish import publish_batch
from pipeline.batch.run import RunResult, run_batch

__all__ = ["BatchPlan", "PublishError", "RunResult", "compact_closed", "current_run",
           "enrich_shard", "enrich_shards", "input_fingerprint", "parse_shard", "plan_batch",
           "plan_of_shard", "publish_batch", "refresh_catalog", "remove_stale_staging",
           "run_batch"]
