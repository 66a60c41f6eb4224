-- One entity's mentions over time, per month (change the name and label below; use `day`
-- instead of the month, with day_precision = 'day', for a daily series).
-- Variables rather than a joined parameter row: DuckDB folds them into constants, so the
-- filter reaches the Parquet scan instead of following the whole aggregation.
SET VARIABLE entity = 'USA';
SET VARIABLE label = 'LOC';

SELECT
    date_trunc('month', day)::DATE AS month,
    sum(mentions) AS mentions,
    sum(articles) AS articles,
    sum(stories) AS stories
FROM entity_mentions_daily
WHERE norm = getvariable('entity') AND label = getvariable('label')
GROUP BY month
ORDER BY month;
