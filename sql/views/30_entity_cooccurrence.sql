-- entity_cooccurrence: pairs of distinct entities named in the same article. Each pair appears
-- twice, once from each side (filter on norm to ask "who appears with X"). An article counts once
-- however often it names the pair and however many batches delivered it.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW entity_cooccurrence AS
WITH entities AS (
    SELECT article_id, batch_date, label, norm FROM entities
),

articles AS (
    SELECT article_id, batch_date, published_day, duplicate_cluster_id FROM articles
),

first_delivery AS (
    SELECT article_id, batch_date, published_day, duplicate_cluster_id AS story_id
    FROM articles
    QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY batch_date) = 1
),

named AS (
    SELECT DISTINCT e.article_id, d.story_id, d.published_day, e.label, e.norm
    FROM entities AS e
    JOIN first_delivery AS d USING (article_id, batch_date)
),

pairs AS (
    SELECT
        a.label,
        a.norm,
        b.label AS other_label,
        b.norm AS other_norm,
        a.article_id,
        a.story_id,
        a.published_day
    FROM named AS a
    JOIN named AS b
        ON a.article_id = b.article_id
        AND (a.label, a.norm) <> (b.label, b.norm)
)

SELECT
    label,
    norm,
    other_label,
    other_norm,
    count(*) AS articles,
    count(DISTINCT story_id) AS stories,
    min(published_day) AS first_day,
    max(published_day) AS last_day
FROM pairs
GROUP BY label, norm, other_label, other_norm;
