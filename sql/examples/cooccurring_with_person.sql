-- Who and what is named together with a person (change the name in `params`), by the number of
-- articles naming both.
WITH params AS (
    SELECT 'Jens Stoltenberg' AS person
)

SELECT
    c.other_label AS label,
    c.other_norm AS named_with,
    c.articles,
    c.stories,
    c.first_day,
    c.last_day
FROM entity_cooccurrence AS c
JOIN params AS p ON c.label = 'PER' AND c.norm = p.person
ORDER BY c.articles DESC, c.other_label, c.other_norm
LIMIT 10;
