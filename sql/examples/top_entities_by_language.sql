-- Top entities of each article language: what each language's NER pipeline found, side by side
-- (mentions in titles, teasers and bodies; articles that name the entity).
WITH counted AS (
    SELECT
        a.language,
        e.label,
        e.norm AS entity,
        count(*) AS mentions,
        count(DISTINCT e.article_id) AS articles
    FROM entities AS e
    INNER JOIN articles AS a USING (article_id, batch_date)
    GROUP BY ALL
)

SELECT language, label, entity, mentions, articles
FROM counted
QUALIFY row_number() OVER (PARTITION BY language ORDER BY mentions DESC, entity) <= 5
ORDER BY language, mentions DESC, entity;
