-- quality_checks: The checks each published run passed (or was allowed past) before publishing.
-- Columns are documented in pipeline/schemas.py (and the README).
CREATE OR REPLACE VIEW quality_checks AS
SELECT *
FROM read_parquet(
    table_glob('quality_checks'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
