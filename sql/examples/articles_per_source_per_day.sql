-- Articles per source and publication day (the outlet's calendar), with the words they carried.
-- Filter on batch_date (the partition) to read only some batches' files.
SELECT
    coalesce(source, '(unknown)') AS source,
    published_day,
    count(*) AS articles,
    sum(word_count) AS words
FROM articles
WHERE published_precision IN ('day', 'minute', 'second')
GROUP BY ALL
ORDER BY published_day, source;
