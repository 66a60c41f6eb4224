-- entities: Named-entity mentions; start_char/end_char index into articles.body.
-- Columns are documented in pipeline/schemas.py (and the README).
CREATE OR REPLACE VIEW entities AS
SELECT *
FROM read_parquet(
    table_glob('entities'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
