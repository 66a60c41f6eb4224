"""Store and publish: one pyarrow schema per table (``schemas``), the Hive-partitioned layout,
Parquet I/O and the atomic, durable swap (``storage``), tables derived at publish (``derived``)
and the quality gate's checks (``quality``)."""
