-- time_mentions: relative time expressions of article bodies ("am Dienstag", "last week"),
-- resolved against the article's local publication date where its precision allows.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW time_mentions AS
WITH source AS (
    SELECT * FROM warehouse_table('time_mentions')
),

renamed AS (
    SELECT
        article_id,
        batch_date,
        text,
        start_char,
        end_char,
        value,
        precision,
        note,
        run_id
    FROM source
)

SELECT * FROM renamed;
