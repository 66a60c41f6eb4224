-- Paths of the warehouse, resolved relative to this catalog file at query time.
-- DuckDB sets temp_directory to '<catalog file>.tmp', so its folder is the warehouse root,
-- wherever the folder was moved and whatever the working directory is. (Open news.duckdb as the
-- main database and leave temp_directory unset for this to hold.)
CREATE OR REPLACE MACRO warehouse_root() AS parse_dirpath(current_setting('temp_directory'));
CREATE OR REPLACE MACRO table_glob(tbl) AS warehouse_root() || '/' || tbl || '/batch_date=*/*.parquet';
