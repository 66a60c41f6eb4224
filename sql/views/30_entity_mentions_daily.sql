-- entity_mentions_daily: mentions of each normalised entity per publication day and label.
-- An article re-delivered in several batches counts once (its first batch); wire copies of one
-- story count as separate articles but once in `stories`. Articles dated only to a month or a
-- year are counted on the period's first day with day_precision 'month'/'year': filter
-- day_precision = 'day' for a daily series, keep them all for monthly totals.
-- Adds up article_entities (one row per article and entity, written at publish): a filter on
-- day reaches its Parquet scan, so a month's query reads that month's row groups.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW entity_mentions_daily AS
WITH article_entities AS (
    SELECT article_id, batch_date, day, day_precision, label, norm, story_id, mentions
    FROM article_entities
    WHERE day IS NOT NULL
),

deliveries AS (
    SELECT article_id, batch_date FROM articles
),

later_deliveries AS (
    SELECT article_id, batch_date
    FROM deliveries
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY batch_date) > 1
),

first_delivery AS (
    SELECT a.*
    FROM article_entities AS a
    ANTI JOIN later_deliveries AS l USING (article_id, batch_date)
)

SELECT
    day,
    day_precision,
    label,
    norm,
    sum(mentions)::BIGINT AS mentions,
    count(DISTINCT article_id) AS articles,
    count(DISTINCT story_id) AS stories
FROM first_delivery
GROUP BY day, day_precision, label, norm;
