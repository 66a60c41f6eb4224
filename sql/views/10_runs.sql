-- runs: one row per published run of a batch; is_current marks the run whose data is live.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW runs AS
WITH source AS (
    SELECT * FROM warehouse_table('runs')
),

renamed AS (
    SELECT
        run_id,
        batch_date,
        started_at,
        finished_at,
        code_version,
        input_files,
        records_read,
        articles_loaded,
        records_rejected,
        entities_found,
        files_unchanged,
        files_removed,
        input_fingerprint,
        is_current
    FROM source
)

SELECT * FROM renamed;
