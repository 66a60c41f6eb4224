-- The warehouse root: the folder of this catalog file. A view cannot ask DuckDB which database
-- file it lives in, so the answer depends on how the catalog was opened:
-- * as the main database (`duckdb news.duckdb`, duckdb.connect(path); any path, any working
--   directory): DuckDB sets temp_directory to '<catalog file as opened>.tmp', so its folder is the
--   root ('' for a bare 'news.duckdb': the working directory, '.'). Holds after a move or copy.
-- * attached (ATTACH '.../news.duckdb' AS x) from another database, or with temp_directory set
--   to another folder: built_warehouse_root(), the absolute root the catalog was built at, which
--   pipeline/catalog.py writes before this file runs. That path is part of the catalog's digest,
--   so after a move the next run or `newsetl catalog` rebuilds the catalog. (A catalog attached
--   to a session whose main database is another news.duckdb would read that one's folder: set
--   temp_directory to another folder in such a session.)
-- The placeholder only serves a session that runs this file alone (pipeline/derived.py).
CREATE MACRO IF NOT EXISTS built_warehouse_root() AS NULL::VARCHAR;
CREATE OR REPLACE MACRO warehouse_root() AS
    CASE
        WHEN parse_filename(current_setting('temp_directory')) = 'news.duckdb.tmp'
            THEN coalesce(nullif(parse_dirpath(current_setting('temp_directory')), ''), '.')
        ELSE built_warehouse_root()
    END;
CREATE OR REPLACE MACRO table_glob(tbl) AS warehouse_root() || '/' || tbl || '/batch_date=*/*.parquet';
CREATE OR REPLACE MACRO month_glob(tbl) AS warehouse_root() || '/' || tbl || '/batch_month=*/*.parquet';
-- Every published Parquet file of a table: open days with batch_date from the Hive partition
-- folder (a filter on it reads only those folders' files), and compacted months, whose files
-- hold batch_date in their rows, sorted by it (a filter on it skips row groups); columns matched
-- by name across files written by different schema versions. (The month glob always matches:
-- each table holds a zero-row batch_month=none/empty.parquet, see pipeline/warehouse/layout.py.)
CREATE OR REPLACE MACRO warehouse_table(tbl) AS TABLE
    SELECT *
    FROM read_parquet(
        table_glob(tbl),
        hive_partitioning = true,
        hive_types = {'batch_date': DATE},
        union_by_name = true
    )
    UNION ALL BY NAME
    SELECT *
    FROM read_parquet(
        month_glob(tbl),
        hive_partitioning = false,
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
