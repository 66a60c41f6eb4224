-- entities: one row per named-entity mention; start_char/end_char index into the article's
-- field (title, teaser or body).
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW entities AS
WITH source AS (
    SELECT * FROM warehouse_table('entities')
),

renamed AS (
    SELECT
        article_id,
        batch_date,
        text,
        label,
        coalesce(norm, text) AS norm,
        start_char,
        end_char,
        sentence_index,
        model,
        run_id,
        coalesce(field, 'body') AS field
    FROM source
)

SELECT * FROM renamed;
