-- rejects: Every record that could not be loaded, with a reason.
-- Columns are documented in pipeline/schemas.py (and the README).
CREATE OR REPLACE VIEW rejects AS
SELECT *
FROM read_parquet(
    table_glob('rejects'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
