-- What one day's run loaded and rejected (change the batch date in `params`): records read,
-- articles loaded by format, records rejected by reason; read = loaded + rejected.
WITH params AS (
    SELECT DATE '2023-02-01' AS batch
),

run AS (
    SELECT r.*
    FROM runs AS r
    JOIN params AS p ON r.batch_date = p.batch
    WHERE r.is_current
),

loaded AS (
    SELECT 'loaded' AS outcome, a.format AS detail, count(*) AS records
    FROM articles AS a
    JOIN run USING (batch_date)
    GROUP BY ALL
),

rejected AS (
    SELECT 'rejected' AS outcome, j.reason_code AS detail, count(*) AS records
    FROM rejects AS j
    JOIN run USING (batch_date)
    GROUP BY ALL
),

read AS (
    SELECT 'read' AS outcome, run_id AS detail, records_read AS records
    FROM run
)

SELECT outcome, detail, records
FROM (
    SELECT 1 AS part, * FROM read
    UNION ALL
    SELECT 2 AS part, * FROM loaded
    UNION ALL
    SELECT 3 AS part, * FROM rejected
)
ORDER BY part, detail;
