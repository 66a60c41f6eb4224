-- time_mentions: Relative time expressions of article bodies ("am Dienstag", "last week"),
-- resolved against the article's local publication date where its precision allows.
-- Columns are documented in pipeline/schemas.py (and the README).
CREATE OR REPLACE VIEW time_mentions AS
SELECT *
FROM read_parquet(
    table_glob('time_mentions'),
    hive_partitioning = true,
    hive_types = {'batch_date': DATE},
    union_by_name = true
);
