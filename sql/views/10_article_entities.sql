-- article_entities: one row per article and entity it names (label, normalised name), with the
-- article's publication day and story and how often it names the entity. Derived from a batch's
-- articles and entities when it is published (pipeline/derived.py), sorted by day: what
-- entity_mentions_daily adds up, without joining every mention to its article at query time.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW article_entities AS
WITH source AS (
    SELECT * FROM warehouse_table('article_entities')
),

renamed AS (
    SELECT
        article_id,
        batch_date,
        day,
        day_precision,
        label,
        norm,
        story_id,
        mentions,
        run_id
    FROM source
)

SELECT * FROM renamed;
