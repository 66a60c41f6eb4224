-- articles: One row per loaded article (clean, normalised, deduplicated within each batch).
-- Columns are documented in pipeline/schemas.py (and the README).
CREATE OR REPLACE VIEW articles AS
SELECT * EXCLUDE (minhash)
FROM read_parquet(
    table_glob('articles'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
