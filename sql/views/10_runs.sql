-- runs: One row per published run of a batch; is_current marks the run whose data is live.
-- Columns are documented in pipeline/schemas.py (and the README).
CREATE OR REPLACE VIEW runs AS
SELECT *
FROM read_parquet(
    table_glob('runs'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
