-- The statements of the sync (dynamo/sync.py). Valid Redshift SQL.
--
-- Each statement follows a "-- name: x" line and is sent as one line (error
-- messages show a statement's first line). Two schema names are put into them,
-- each checked as a plain SQL identifier, the only text ever put into these
-- statements: "contabyx." becomes VIEWS_SCHEMA (the views), "contabyx_sync."
-- becomes SYNC_SCHEMA (the tables the sync owns). Every value is a bound :parameter.
--
-- A run reads each view once: snapshot_<view> copies it into the sync's table of
-- the same name, in one transaction (so every range of the run reads the same
-- figures), and the plan and the ranges read that table. Re-aggregating the
-- transactions (and the Spectrum history, billed by the byte) once per range
-- would cost the warehouse a full scan per CHUNK_CLIENTS clients.

-- name: create_sync_schema
CREATE SCHEMA IF NOT EXISTS contabyx_sync;

-- name: create_clients_info
-- One row per client, as the view contabyx.clients_info. The key is informational
-- on Redshift (the view groups by clientid, so it holds) and lets the planner skip
-- work; the sort key lets each range read only its clients' blocks.
CREATE TABLE IF NOT EXISTS contabyx_sync.clients_info (
    clientid BIGINT NOT NULL,
    balance DECIMAL(38, 2),
    income DECIMAL(38, 2),
    expense DECIMAL(38, 2),
    income_count BIGINT,
    expense_count BIGINT,
    PRIMARY KEY (clientid)
) DISTKEY (clientid) SORTKEY (clientid);

-- name: create_clients_info_by_month
-- One row per client and month, as the view contabyx.clients_info_by_month.
CREATE TABLE IF NOT EXISTS contabyx_sync.clients_info_by_month (
    clientid BIGINT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    income DECIMAL(38, 2),
    expense DECIMAL(38, 2),
    income_count BIGINT,
    expense_count BIGINT,
    PRIMARY KEY (clientid, year, month)
) DISTKEY (clientid) SORTKEY (clientid, year, month);

-- name: clear_clients_info
-- DELETE, not TRUNCATE: Redshift's TRUNCATE commits at once, and the snapshot must
-- be replaced in one transaction. Redshift's automatic vacuum reclaims the rows.
DELETE FROM contabyx_sync.clients_info;

-- name: snapshot_clients_info
INSERT INTO contabyx_sync.clients_info
    (clientid, balance, income, expense, income_count, expense_count)
SELECT clientid, balance, income, expense, income_count, expense_count
FROM contabyx.clients_info;

-- name: clear_clients_info_by_month
DELETE FROM contabyx_sync.clients_info_by_month;

-- name: snapshot_clients_info_by_month
INSERT INTO contabyx_sync.clients_info_by_month
    (clientid, year, month, income, expense, income_count, expense_count)
SELECT clientid, year, month, income, expense, income_count, expense_count
FROM contabyx.clients_info_by_month;

-- name: plan_clients_info
-- The upper clientid of every :chunk consecutive clients, and of the last client
-- planned (at most :limit clients), with its rank: one statement plans the run.
-- Clientids start at 0 (dynamo.sync.LOWEST_CLIENTID), as the views keep them.
SELECT clientid, rn FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM contabyx_sync.clients_info WHERE clientid >= 0
) AS ranked
WHERE rn <= CAST(:limit AS BIGINT)
AND (MOD(rn, CAST(:chunk AS BIGINT)) = 0
OR rn = LEAST(total, CAST(:limit AS BIGINT)))
ORDER BY clientid;

-- name: plan_clients_info_by_month
-- The same plan over the clients of the months' snapshot.
SELECT clientid, rn FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM (SELECT DISTINCT clientid FROM contabyx_sync.clients_info_by_month) AS c
    WHERE clientid >= 0
) AS ranked
WHERE rn <= CAST(:limit AS BIGINT)
AND (MOD(rn, CAST(:chunk AS BIGINT)) = 0
OR rn = LEAST(total, CAST(:limit AS BIGINT)))
ORDER BY clientid;

-- name: range_clients_info
-- The clients with :low < clientid <= :high, in the columns' order that
-- dynamo.shape.CLIENTS_INFO_COLUMNS names.
SELECT clientid, balance, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
ORDER BY clientid;

-- name: range_clients_info_by_month
-- The months of the clients with :low < clientid <= :high, in the columns' order
-- that dynamo.shape.BY_MONTH_COLUMNS names; a client's months are consecutive,
-- as shaping one item per client needs.
SELECT clientid, year, month, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info_by_month
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
ORDER BY clientid, year, month;

-- name: sample_clients_info
-- The rows of :sample clients of the snapshot picked at random (contabyx-etl verify
-- --sample): each client gets an independent RANDOM() key and the :sample lowest
-- keys win, so every set of :sample clients is equally likely. Ordered as the
-- range statement orders its rows.
SELECT s.clientid, s.balance, s.income, s.expense, s.income_count, s.expense_count
FROM contabyx_sync.clients_info AS s
JOIN (
    SELECT clientid FROM (
        SELECT clientid, ROW_NUMBER() OVER (ORDER BY RANDOM()) AS pick
        FROM contabyx_sync.clients_info WHERE clientid >= 0
    ) AS drawn
    WHERE pick <= CAST(:sample AS BIGINT)
) AS picked ON picked.clientid = s.clientid
ORDER BY s.clientid;

-- name: sample_clients_info_by_month
-- The months of :sample clients of the months' snapshot picked at random, as above.
SELECT s.clientid, s.year, s.month, s.income, s.expense, s.income_count, s.expense_count
FROM contabyx_sync.clients_info_by_month AS s
JOIN (
    SELECT clientid FROM (
        SELECT clientid, ROW_NUMBER() OVER (ORDER BY RANDOM()) AS pick
        FROM (SELECT DISTINCT clientid FROM contabyx_sync.clients_info_by_month) AS c
        WHERE clientid >= 0
    ) AS drawn
    WHERE pick <= CAST(:sample AS BIGINT)
) AS picked ON picked.clientid = s.clientid
ORDER BY s.clientid, s.year, s.month;

-- name: rejects
-- The source rows the views leave out, by reason (dynamo.sync.REJECT_REASONS, in
-- that order).
SELECT unknown_type, ambiguous_type, other_nature, null_clientid,
negative_clientid, null_amount, null_time, time_out_of_range
FROM contabyx.source_rejects;
