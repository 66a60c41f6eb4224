-- One entity's mentions over time, per month (change the name and label in `params`; use
-- `day` instead of the month, with day_precision = 'day', for a daily series).
WITH params AS (
    SELECT 'USA' AS entity, 'LOC' AS label
),

mentions AS (
    SELECT m.*
    FROM entity_mentions_daily AS m
    JOIN params AS p ON m.norm = p.entity AND m.label = p.label
)

SELECT
    date_trunc('month', day)::DATE AS month,
    sum(mentions) AS mentions,
    sum(articles) AS articles,
    sum(stories) AS stories
FROM mentions
GROUP BY month
ORDER BY month;
