"""news-etl: raw news dumps in, enriched Hive-partitioned Parquet out, queried with DuckDB.

A plain library (no Airflow import): the DAGs in ``dags/`` and the ``newsetl`` CLI call the same
stage functions in :mod:`pipeline.stages`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("news-etl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
