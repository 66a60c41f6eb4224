-- Top entities of a month: mentions, articles and distinct stories per normalised name.
-- Change the month in `params`. Articles dated only to the month count too (day_precision).
WITH params AS (
    SELECT DATE '2023-01-01' AS month_start
),

mentions AS (
    SELECT m.*
    FROM entity_mentions_daily AS m, params AS p
    WHERE m.day >= p.month_start AND m.day < p.month_start + INTERVAL 1 MONTH
)

SELECT
    label,
    norm AS entity,
    sum(mentions) AS mentions,
    sum(articles) AS articles,
    sum(stories) AS stories
FROM mentions
GROUP BY label, norm
ORDER BY mentions DESC, entity
LIMIT 10;
