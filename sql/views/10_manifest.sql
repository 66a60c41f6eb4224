-- manifest: every input file of each published batch, with size, checksum and status.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW manifest AS
WITH source AS (
    SELECT * FROM warehouse_table('manifest')
),

renamed AS (
    SELECT
        batch_date,
        run_id,
        source_file,
        size,
        sha256,
        status
    FROM source
)

SELECT * FROM renamed;
