-- Top entities of a month: mentions, articles and distinct stories per normalised name.
-- Change the month below. Articles dated only to the month count too (day_precision).
-- A variable rather than a joined parameter row: DuckDB folds it into a constant, so the day
-- filter reaches the Parquet scan and only that month's row groups are read.
SET VARIABLE month_start = DATE '2023-01-01';

SELECT
    label,
    norm AS entity,
    sum(mentions) AS mentions,
    sum(articles) AS articles,
    sum(stories) AS stories
FROM entity_mentions_daily
WHERE day >= getvariable('month_start')
    AND day < getvariable('month_start') + INTERVAL 1 MONTH
GROUP BY label, norm
ORDER BY mentions DESC, entity
LIMIT 10;
