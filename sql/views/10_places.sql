-- places: one row per LOC mention, resolved offline to a country, first-level region, city,
-- continent or world region (pipeline/enrich/places.py), or kept with the reason it was not
-- (reason 'unknown' or 'ambiguous'). Derived from a batch's entities and articles when it is
-- published (pipeline/batch/places.py); batches published before the table existed get it at
-- the next catalog refresh, from their published rows.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW places AS
WITH source AS (
    SELECT * FROM warehouse_table('places')
),

renamed AS (
    SELECT
        article_id,
        batch_date,
        field,
        start_char,
        end_char,
        text,
        geonameid,
        name_en,
        name_de,
        feature,
        country_code,
        admin1_code,
        latitude,
        longitude,
        population,
        method,
        confidence,
        reason,
        run_id
    FROM source
)

SELECT * FROM renamed;
