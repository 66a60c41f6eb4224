-- One country's mentions over time, per month (change the ISO code below): mentions of the
-- country or of places in it, and the articles naming them. Articles dated only to a month
-- count in that month.
SET VARIABLE country = 'US';

SELECT
    date_trunc('month', day)::DATE AS month,
    sum(mentions) AS mentions,
    sum(articles) AS articles
FROM country_mentions_daily
WHERE country_code = getvariable('country')
GROUP BY month
ORDER BY month;
