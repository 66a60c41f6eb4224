-- sources: one row per source (the outlet's domain, else the site name; articles with neither are
-- grouped as '(unknown)'): how much it delivered, over which dates, in which languages.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW sources AS
WITH articles AS (
    SELECT article_id, batch_date, source, language, published_day, word_count, duplicate_cluster_id
    FROM articles
),

renamed AS (
    SELECT
        coalesce(source, '(unknown)') AS source,
        article_id,
        batch_date,
        coalesce(language, '?') AS language,
        published_day,
        word_count,
        duplicate_cluster_id AS story_id
    FROM articles
),

languages AS (
    SELECT source, language, count(*) AS n
    FROM renamed
    GROUP BY source, language
),

language_lists AS (
    SELECT
        source,
        list(language ORDER BY n DESC, language) AS languages
    FROM languages
    GROUP BY source
)

SELECT
    r.source,
    count(*) AS articles,
    count(DISTINCT r.article_id) AS distinct_articles,
    count(DISTINCT r.story_id) AS stories,
    min(r.published_day) AS first_published,
    max(r.published_day) AS last_published,
    min(r.batch_date) AS first_batch,
    max(r.batch_date) AS last_batch,
    any_value(l.languages) AS languages,
    any_value(l.languages)[1] AS main_language,
    median(r.word_count) AS median_words
FROM renamed AS r
JOIN language_lists AS l USING (source)
GROUP BY r.source;
