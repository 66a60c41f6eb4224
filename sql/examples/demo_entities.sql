-- The most mentioned entities of the loaded batches, with the articles that mention them.
SELECT
    e.label,
    e.text AS entity,
    count(*) AS mentions,
    count(DISTINCT e.article_id) AS articles,
    min(a.source_file) AS example_file
FROM entities AS e
JOIN articles AS a USING (article_id, batch_date)
GROUP BY ALL
ORDER BY mentions DESC, entity
LIMIT 12;
