-- The statements the sync reads the views with (dynamo/sync.py). Valid Redshift SQL.
--
-- Each statement follows a "-- name: x" line and is sent as one line (error
-- messages show a statement's first line). "FROM contabyx." names the views'
-- schema: it becomes VIEWS_SCHEMA, a name checked as a plain SQL identifier, the
-- only text ever put into these statements; every value is a bound :parameter.

-- name: plan
-- The upper clientid of every :chunk consecutive clients, and of the last client
-- planned (at most :limit clients), with its rank: one statement plans the run.
-- Clientids start at 0 (dynamo.sync.LOWEST_CLIENTID), as the views keep them.
SELECT clientid, rn FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM contabyx.clients_info WHERE clientid >= 0
) AS ranked
WHERE rn <= CAST(:limit AS BIGINT)
AND (MOD(rn, CAST(:chunk AS BIGINT)) = 0
OR rn = LEAST(total, CAST(:limit AS BIGINT)))
ORDER BY clientid;

-- name: range_clients_info
-- The clients with :low < clientid <= :high, in the columns' order that
-- dynamo.shape.CLIENTS_INFO_COLUMNS names.
SELECT clientid, balance, income, expense, income_count, expense_count
FROM contabyx.clients_info
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
ORDER BY clientid;

-- name: range_clients_info_by_month
-- The months of the clients with :low < clientid <= :high, in the columns' order
-- that dynamo.shape.BY_MONTH_COLUMNS names; a client's months are consecutive,
-- as shaping one item per client needs.
SELECT clientid, year, month, income, expense, income_count, expense_count
FROM contabyx.clients_info_by_month
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
ORDER BY clientid, year, month;

-- name: rejects
-- The source rows the views leave out, by reason (dynamo.sync.REJECT_REASONS, in
-- that order).
SELECT unknown_type, ambiguous_type, other_nature, null_clientid,
negative_clientid, null_amount, null_time, time_out_of_range
FROM contabyx.source_rejects;
