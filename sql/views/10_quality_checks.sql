-- quality_checks: the checks each published run passed (or was let past) before publishing.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW quality_checks AS
WITH source AS (
    SELECT * FROM warehouse_table('quality_checks')
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
