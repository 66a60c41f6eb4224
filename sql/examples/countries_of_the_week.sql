-- Which countries were in the news in a week, and how that changed from the week before
-- (change the day below: any day of the week; weeks start on Monday). Counts mentions of a
-- country or of places in it, in articles dated to a day.
SET VARIABLE week_of = DATE '2023-01-31';

WITH weeks AS (
    SELECT date_trunc('week', getvariable('week_of'))::DATE AS this_week
),

daily AS (
    SELECT c.country_code, c.day, c.mentions, c.articles, w.this_week
    FROM country_mentions_daily AS c, weeks AS w
    WHERE c.day_precision = 'day'
      AND c.day >= w.this_week - INTERVAL 7 DAY
      AND c.day < w.this_week + INTERVAL 7 DAY
)

SELECT
    country_code,
    sum(mentions) FILTER (WHERE day >= this_week) AS mentions,
    sum(articles) FILTER (WHERE day >= this_week) AS articles,
    coalesce(sum(mentions) FILTER (WHERE day < this_week), 0) AS mentions_week_before
FROM daily
GROUP BY country_code
HAVING sum(mentions) FILTER (WHERE day >= this_week) > 0
ORDER BY mentions DESC, country_code
LIMIT 20;
