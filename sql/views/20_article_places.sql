-- article_places: the places each article names, one row per article and place (or unresolved
-- mention text), with how often it names it: what a map or a country filter of articles joins.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW article_places AS
WITH places AS (
    SELECT
        article_id, batch_date, coalesce(name_en, text) AS place, feature, country_code,
        latitude, longitude, reason
    FROM places
)

SELECT
    article_id,
    batch_date,
    place,
    feature,
    country_code,
    any_value(latitude) AS latitude,
    any_value(longitude) AS longitude,
    count(*) AS mentions,
    bool_and(reason IS NULL) AS resolved
FROM places
GROUP BY article_id, batch_date, place, feature, country_code;
