-- country_mentions_daily: mentions of each country per publication day: every place resolved
-- to a country or to a place in it (a city, a first-level region) counts for the country. An
-- article re-delivered in several batches counts once (its first batch). Articles dated only to
-- a month or a year count on the period's first day with day_precision 'month'/'year'.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW country_mentions_daily AS
WITH places AS (
    SELECT article_id, batch_date, country_code
    FROM places
    WHERE country_code IS NOT NULL
),

articles AS (
    SELECT
        article_id,
        batch_date,
        published_day AS day,
        CASE
            WHEN published_precision IN ('day', 'minute', 'second') THEN 'day'
            ELSE published_precision
        END AS day_precision
    FROM articles
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY batch_date) = 1
),

dated AS (
    SELECT a.day, a.day_precision, p.country_code, p.article_id
    FROM places AS p
    JOIN articles AS a USING (article_id, batch_date)
    WHERE a.day IS NOT NULL
)

SELECT
    day,
    day_precision,
    country_code,
    count(*) AS mentions,
    count(DISTINCT article_id) AS articles
FROM dated
GROUP BY day, day_precision, country_code;
