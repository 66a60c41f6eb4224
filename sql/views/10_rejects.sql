-- rejects: every record that could not be loaded, with the reason and where it was.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW rejects AS
WITH source AS (
    SELECT * FROM warehouse_table('rejects')
),

renamed AS (
    SELECT
        batch_date,
        source_file,
        member,
        locator,
        reason,
        reason_code,
        excerpt,
        run_id
    FROM source
)

SELECT * FROM renamed;
