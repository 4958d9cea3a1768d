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

-- name: create_clients_info_done
-- What the last complete run wrote to DynamoDB: the copy an incremental run
-- compares with. It changes only once every item of a run is written. LIKE takes
-- the copy's columns, and on Redshift its distribution and sort keys.
CREATE TABLE IF NOT EXISTS contabyx_sync.clients_info_done (LIKE contabyx_sync.clients_info);

-- name: create_clients_info_by_month_done
CREATE TABLE IF NOT EXISTS contabyx_sync.clients_info_by_month_done
(LIKE contabyx_sync.clients_info_by_month);

-- name: create_clients_info_changed
-- The clients whose item this run writes (in the copy) or deletes (not in it).
CREATE TABLE IF NOT EXISTS contabyx_sync.clients_info_changed (
    clientid BIGINT NOT NULL,
    PRIMARY KEY (clientid)
) DISTKEY (clientid) SORTKEY (clientid);

-- name: create_clients_info_by_month_changed
CREATE TABLE IF NOT EXISTS contabyx_sync.clients_info_by_month_changed (
    clientid BIGINT NOT NULL,
    PRIMARY KEY (clientid)
) DISTKEY (clientid) SORTKEY (clientid);

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

-- name: clear_changed_clients_info
DELETE FROM contabyx_sync.clients_info_changed;

-- name: changes_clients_info
-- An incremental run: the clients whose row differs from what the last complete
-- run wrote, either way (new, changed, gone). The warehouse computes it; EXCEPT
-- compares every column, NULLs equal, as a set.
INSERT INTO contabyx_sync.clients_info_changed (clientid)
SELECT DISTINCT clientid FROM (
    (SELECT clientid, balance, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info
     EXCEPT
     SELECT clientid, balance, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info_done)
    UNION ALL
    (SELECT clientid, balance, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info_done
     EXCEPT
     SELECT clientid, balance, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info)
) AS differing;

-- name: everything_clients_info
-- A full run: every client of the copy, and every client the last complete run wrote.
INSERT INTO contabyx_sync.clients_info_changed (clientid)
SELECT clientid FROM contabyx_sync.clients_info
UNION
SELECT clientid FROM contabyx_sync.clients_info_done;

-- name: clear_changed_clients_info_by_month
DELETE FROM contabyx_sync.clients_info_by_month_changed;

-- name: changes_clients_info_by_month
-- The clients with any month that differs, either way: a late transaction in an
-- old month, a corrected amount, type or time, a deleted transaction.
INSERT INTO contabyx_sync.clients_info_by_month_changed (clientid)
SELECT DISTINCT clientid FROM (
    (SELECT clientid, year, month, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info_by_month
     EXCEPT
     SELECT clientid, year, month, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info_by_month_done)
    UNION ALL
    (SELECT clientid, year, month, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info_by_month_done
     EXCEPT
     SELECT clientid, year, month, income, expense, income_count, expense_count
     FROM contabyx_sync.clients_info_by_month)
) AS differing;

-- name: everything_clients_info_by_month
INSERT INTO contabyx_sync.clients_info_by_month_changed (clientid)
SELECT clientid FROM contabyx_sync.clients_info_by_month
UNION
SELECT clientid FROM contabyx_sync.clients_info_by_month_done;

-- name: plan_clients_info
-- The upper clientid of every :chunk consecutive clients to write, and of the
-- last client planned (at most :limit clients), with its rank: one statement plans
-- the run.
-- Clientids start at 0 (dynamo.sync.LOWEST_CLIENTID), as the views keep them.
SELECT clientid, rn FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM contabyx_sync.clients_info WHERE clientid >= 0
    AND clientid IN (SELECT clientid FROM contabyx_sync.clients_info_changed)
) AS ranked
WHERE rn <= CAST(:limit AS BIGINT)
AND (MOD(rn, CAST(:chunk AS BIGINT)) = 0
OR rn = LEAST(total, CAST(:limit AS BIGINT)))
ORDER BY clientid;

-- name: plan_clients_info_by_month
-- The same plan over the clients to write of the months' copy.
SELECT clientid, rn FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM (SELECT DISTINCT clientid FROM contabyx_sync.clients_info_by_month) AS c
    WHERE clientid >= 0
    AND clientid IN (SELECT clientid FROM contabyx_sync.clients_info_by_month_changed)
) AS ranked
WHERE rn <= CAST(:limit AS BIGINT)
AND (MOD(rn, CAST(:chunk AS BIGINT)) = 0
OR rn = LEAST(total, CAST(:limit AS BIGINT)))
ORDER BY clientid;

-- name: range_clients_info
-- The clients to write with :low < clientid <= :high, in the columns' order that
-- dynamo.shape.CLIENTS_INFO_COLUMNS names.
SELECT clientid, balance, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
AND clientid IN (SELECT clientid FROM contabyx_sync.clients_info_changed
    WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT))
ORDER BY clientid;

-- name: range_clients_info_by_month
-- The months of the clients to write with :low < clientid <= :high, in the columns' order
-- that dynamo.shape.BY_MONTH_COLUMNS names; a client's months are consecutive,
-- as shaping one item per client needs.
SELECT clientid, year, month, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info_by_month
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
AND clientid IN (SELECT clientid FROM contabyx_sync.clients_info_by_month_changed
    WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT))
ORDER BY clientid, year, month;

-- name: gone_clients_info
-- The clients to delete: marked this run, and not in the copy.
SELECT c.clientid FROM contabyx_sync.clients_info_changed AS c
WHERE NOT EXISTS (SELECT 1 FROM contabyx_sync.clients_info AS s WHERE s.clientid = c.clientid)
ORDER BY c.clientid;

-- name: gone_clients_info_by_month
SELECT c.clientid FROM contabyx_sync.clients_info_by_month_changed AS c
WHERE NOT EXISTS (
    SELECT 1 FROM contabyx_sync.clients_info_by_month AS s WHERE s.clientid = c.clientid
)
ORDER BY c.clientid;

-- name: count_clients_info
-- The clients of the copy, and of what the last complete run wrote.
SELECT (SELECT COUNT(*) FROM contabyx_sync.clients_info),
(SELECT COUNT(*) FROM contabyx_sync.clients_info_done);

-- name: count_clients_info_by_month
SELECT (SELECT COUNT(DISTINCT clientid) FROM contabyx_sync.clients_info_by_month),
(SELECT COUNT(DISTINCT clientid) FROM contabyx_sync.clients_info_by_month_done);

-- name: forget_clients_info
-- A client the run could not store is left out of what it records as written, so
-- that the next run tries it again.
DELETE FROM contabyx_sync.clients_info WHERE clientid = CAST(:clientid AS BIGINT);

-- name: forget_clients_info_by_month
DELETE FROM contabyx_sync.clients_info_by_month WHERE clientid = CAST(:clientid AS BIGINT);

-- name: clear_done_clients_info
-- Once every item of the run is written, the copy of the clients it marked becomes
-- what was written (a full run marks every client): the rows of the others stay.
DELETE FROM contabyx_sync.clients_info_done
WHERE clientid IN (SELECT clientid FROM contabyx_sync.clients_info_changed);

-- name: promote_clients_info
INSERT INTO contabyx_sync.clients_info_done
    (clientid, balance, income, expense, income_count, expense_count)
SELECT clientid, balance, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info
WHERE clientid IN (SELECT clientid FROM contabyx_sync.clients_info_changed);

-- name: clear_done_clients_info_by_month
DELETE FROM contabyx_sync.clients_info_by_month_done
WHERE clientid IN (SELECT clientid FROM contabyx_sync.clients_info_by_month_changed);

-- name: promote_clients_info_by_month
INSERT INTO contabyx_sync.clients_info_by_month_done
    (clientid, year, month, income, expense, income_count, expense_count)
SELECT clientid, year, month, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info_by_month
WHERE clientid IN (SELECT clientid FROM contabyx_sync.clients_info_by_month_changed);

-- name: verify_plan_clients_info
-- contabyx-etl verify reads the whole copy, not only the clients a run marks: the
-- upper clientid of every :chunk consecutive clients, and of the last one.
SELECT clientid FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM contabyx_sync.clients_info WHERE clientid >= 0
) AS ranked
WHERE MOD(rn, CAST(:chunk AS BIGINT)) = 0 OR rn = total
ORDER BY clientid;

-- name: verify_plan_clients_info_by_month
SELECT clientid FROM (
    SELECT clientid, ROW_NUMBER() OVER (ORDER BY clientid) AS rn,
    COUNT(*) OVER () AS total
    FROM (SELECT DISTINCT clientid FROM contabyx_sync.clients_info_by_month) AS c
    WHERE clientid >= 0
) AS ranked
WHERE MOD(rn, CAST(:chunk AS BIGINT)) = 0 OR rn = total
ORDER BY clientid;

-- name: verify_range_clients_info
-- Every client of the copy with :low < clientid <= :high, ordered for shaping.
SELECT clientid, balance, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
ORDER BY clientid;

-- name: verify_range_clients_info_by_month
SELECT clientid, year, month, income, expense, income_count, expense_count
FROM contabyx_sync.clients_info_by_month
WHERE clientid > CAST(:low AS BIGINT) AND clientid <= CAST(:high AS BIGINT)
ORDER BY clientid, year, month;

-- name: verify_sample_clients_info
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

-- name: verify_sample_clients_info_by_month
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
