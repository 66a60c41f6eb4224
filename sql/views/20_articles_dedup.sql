-- articles_dedup: one row per near-duplicate cluster (see articles.duplicate_cluster_id): the
-- earliest published member, preferring the most precise date, then the earliest batch.
-- cluster_size says how many articles (copies, re-edits) the row stands for.
CREATE OR REPLACE VIEW articles_dedup AS
WITH clustered AS (
    SELECT
        *,
        coalesce(duplicate_cluster_id, article_id) AS cluster_key,
        CASE published_precision
            WHEN 'second' THEN 5 WHEN 'minute' THEN 4 WHEN 'day' THEN 3
            WHEN 'month' THEN 2 WHEN 'year' THEN 1 ELSE 0
        END AS precision_rank
    FROM articles
),

ranked AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY cluster_key
            ORDER BY published_at NULLS LAST, precision_rank DESC, batch_date, article_id
        ) AS cluster_rank,
        count(*) OVER (PARTITION BY cluster_key) AS cluster_size
    FROM clustered
)

SELECT * EXCLUDE (cluster_key, precision_rank, cluster_rank)
FROM ranked
WHERE cluster_rank = 1;
