-- Paths of the warehouse, resolved relative to this catalog file at query time.
-- DuckDB sets temp_directory to '<catalog file>.tmp', so its folder is the warehouse root,
-- wherever the folder was moved and whatever the working directory is. (Open news.duckdb as the
-- main database and leave temp_directory unset for this to hold.)
CREATE OR REPLACE MACRO warehouse_root() AS parse_dirpath(current_setting('temp_directory'));
CREATE OR REPLACE MACRO table_glob(tbl) AS warehouse_root() || '/' || tbl || '/batch_date=*/*.parquet';
-- Every published Parquet file of a table, with batch_date from the Hive partition folder (a
-- filter on it reads only those folders' files) and columns matched by name across files written
-- by different schema versions.
CREATE OR REPLACE MACRO warehouse_table(tbl) AS TABLE
    SELECT *
    FROM read_parquet(
        table_glob(tbl),
        hive_partitioning = true,
        hive_types = {'batch_date': DATE},
        union_by_name = true
    );
-- The first day of the period an article is dated to, as the outlet wrote it (local calendar):
-- '2023-01-30T14:05+01:00 [Europe/Berlin]' and '2023-01-30' -> 2023-01-30, '2023-01' -> 2023-01-01,
-- '2023' -> 2023-01-01. From published_local, not published_at: a UTC instant can fall on
-- another calendar day than the one printed, and casting a TIMESTAMPTZ to DATE depends on the
-- session's TimeZone.
CREATE OR REPLACE MACRO publication_day(published_local) AS
    CASE
        WHEN length(published_local) >= 10 THEN try_cast(left(published_local, 10) AS DATE)
        WHEN length(published_local) = 7 THEN try_cast(published_local || '-01' AS DATE)
        WHEN length(published_local) = 4 THEN try_cast(published_local || '-01-01' AS DATE)
    END;
