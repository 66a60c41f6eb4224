-- articles_dedup: one row per story, i.e. per near-duplicate cluster (articles.duplicate_cluster_id):
-- wire copies, re-edits and re-deliveries collapse into the earliest published member, preferring
-- the most precise date, then the earliest batch. cluster_size says how many rows it stands for.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW articles_dedup AS
WITH articles AS (
    SELECT * FROM articles
),

renamed AS (
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
    FROM renamed
)

SELECT * EXCLUDE (cluster_key, precision_rank, cluster_rank)
FROM ranked
WHERE cluster_rank = 1;
