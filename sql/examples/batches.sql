-- What each batch loaded, by language, next to the run's reconciliation figures.
SELECT
    r.batch_date,
    r.records_read,
    r.articles_loaded,
    r.records_rejected,
    a.language,
    count(*) AS articles,
    sum(a.word_count) AS words,
    min(a.published_at)::DATE AS first_published
FROM runs AS r
JOIN articles AS a USING (run_id, batch_date)
WHERE r.is_current
GROUP BY ALL
ORDER BY r.batch_date, a.language;
