-- entity_mentions_daily: mentions of each normalised entity per publication day and label.
-- An article re-delivered in several batches counts once (its first batch); wire copies of one
-- story count as separate articles but once in `stories`. Articles dated only to a month or a
-- year are counted on the period's first day with day_precision 'month'/'year': filter
-- day_precision = 'day' for a daily series, keep them all for monthly totals.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW entity_mentions_daily AS
WITH entities AS (
    SELECT article_id, batch_date, label, norm FROM entities
),

articles AS (
    SELECT article_id, batch_date, published_day, published_precision, duplicate_cluster_id
    FROM articles
),

first_delivery AS (
    SELECT
        article_id,
        batch_date,
        published_day AS day,
        CASE
            WHEN published_precision IN ('day', 'minute', 'second') THEN 'day'
            ELSE published_precision
        END AS day_precision,
        duplicate_cluster_id AS story_id
    FROM articles
    WHERE published_day IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY batch_date) = 1
),

mentions AS (
    SELECT d.day, d.day_precision, e.label, e.norm, e.article_id, d.story_id
    FROM entities AS e
    JOIN first_delivery AS d USING (article_id, batch_date)
)

SELECT
    day,
    day_precision,
    label,
    norm,
    count(*) AS mentions,
    count(DISTINCT article_id) AS articles,
    count(DISTINCT story_id) AS stories
FROM mentions
GROUP BY day, day_precision, label, norm;
