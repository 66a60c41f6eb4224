-- manifest: Every input file of each published batch with its size, checksum and status
-- (new, changed, unchanged, removed). Columns are documented in pipeline/schemas.py.
CREATE OR REPLACE VIEW manifest AS
SELECT *
FROM read_parquet(
    table_glob('manifest'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
