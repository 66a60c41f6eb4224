-- quality_checks: the checks each published run passed (or was let past) before publishing.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW quality_checks AS
WITH source AS (
    SELECT *
    FROM read_parquet(
        table_glob('quality_checks'),
        hive_partitioning = true,
        hive_types = {'batch_date': DATE},
        union_by_name = true
    )
),

renamed AS (
    SELECT
        batch_date,
        run_id,
        "check",
        status,
        observed,
        threshold,
        detail
    FROM source
)

SELECT * FROM renamed;
