-- The per-client and per-client-month figures that the sync copies to DynamoDB.
-- Valid Redshift SQL; the same statements run on the local warehouse.
--
-- A source row counts for its client only when all of these hold; otherwise
-- contabyx.source_rejects counts it under the first reason that applies, in this
-- order (the names are dynamo.sync.REJECT_REASONS):
--   unknown_type       its typeid has no transactiontypes row;
--   ambiguous_type     its typeid has rows of different natures (Redshift does not
--                      enforce keys); identical duplicates count once, and a
--                      transaction never joins more than one type row;
--   other_nature       its nature is neither 'income' nor 'expense' ('transfer');
--   null_clientid, negative_clientid
--                      the sync stores clientids 0 .. 2^63-1 (the plan's domain);
--   null_amount        NULL cannot be summed (Spectrum history has no NOT NULL);
--   null_time, time_out_of_range
--                      a month is stored as years 1-9999 (yNNNN); PostgreSQL and
--                      Redshift timestamps reach before year 1 and after 9999.
-- clients_info and clients_info_by_month carry the same WHERE clause, so that a
-- client's total is always the sum of its months.
--
-- Sums are DECIMAL(38, 2), the type Redshift gives SUM of a DECIMAL(12, 2) column:
-- no client's sum can overflow it (it would take 10^26 rows), and 38 digits are
-- also what a DynamoDB number holds.
--
-- `contabyx-etl create-views --spectrum-schema S` replaces each
-- "contabyx.transactions AS t" below by the UNION ALL of contabyx.transactions and
-- S.transactions, and adds WITH NO SCHEMA BINDING (Redshift requires it for views
-- over external tables). Nothing else changes.

CREATE OR REPLACE VIEW contabyx.clients_info AS
SELECT
    t.clientid AS clientid,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN t.amount ELSE -t.amount END) AS DECIMAL(38, 2)) AS balance,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN t.amount ELSE 0 END) AS DECIMAL(38, 2)) AS income,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN t.amount ELSE 0 END) AS DECIMAL(38, 2)) AS expense,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN 1 ELSE 0 END) AS BIGINT) AS income_count,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN 1 ELSE 0 END) AS BIGINT) AS expense_count
FROM contabyx.transactions AS t
JOIN (
    SELECT typeid, MIN(nature) AS nature, MAX(nature) AS last_nature
    FROM contabyx.transactiontypes
    GROUP BY typeid
) AS tt ON tt.typeid = t.typeid
WHERE tt.nature = tt.last_nature
  AND tt.nature IN ('income', 'expense')
  AND t.clientid >= 0
  AND t.amount IS NOT NULL
  AND EXTRACT(YEAR FROM t.time) BETWEEN 1 AND 9999
GROUP BY t.clientid;

CREATE OR REPLACE VIEW contabyx.clients_info_by_month AS
SELECT
    t.clientid AS clientid,
    CAST(EXTRACT(YEAR FROM t.time) AS INTEGER) AS year,
    CAST(EXTRACT(MONTH FROM t.time) AS INTEGER) AS month,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN t.amount ELSE 0 END) AS DECIMAL(38, 2)) AS income,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN t.amount ELSE 0 END) AS DECIMAL(38, 2)) AS expense,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN 1 ELSE 0 END) AS BIGINT) AS income_count,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN 1 ELSE 0 END) AS BIGINT) AS expense_count
FROM contabyx.transactions AS t
JOIN (
    SELECT typeid, MIN(nature) AS nature, MAX(nature) AS last_nature
    FROM contabyx.transactiontypes
    GROUP BY typeid
) AS tt ON tt.typeid = t.typeid
WHERE tt.nature = tt.last_nature
  AND tt.nature IN ('income', 'expense')
  AND t.clientid >= 0
  AND t.amount IS NOT NULL
  AND EXTRACT(YEAR FROM t.time) BETWEEN 1 AND 9999
GROUP BY t.clientid, EXTRACT(YEAR FROM t.time), EXTRACT(MONTH FROM t.time);

CREATE OR REPLACE VIEW contabyx.source_rejects AS
SELECT
    CAST(SUM(CASE WHEN r.reason = 'unknown_type' THEN 1 ELSE 0 END) AS BIGINT) AS unknown_type,
    CAST(SUM(CASE WHEN r.reason = 'ambiguous_type' THEN 1 ELSE 0 END) AS BIGINT) AS ambiguous_type,
    CAST(SUM(CASE WHEN r.reason = 'other_nature' THEN 1 ELSE 0 END) AS BIGINT) AS other_nature,
    CAST(SUM(CASE WHEN r.reason = 'null_clientid' THEN 1 ELSE 0 END) AS BIGINT) AS null_clientid,
    CAST(SUM(CASE WHEN r.reason = 'negative_clientid' THEN 1 ELSE 0 END) AS BIGINT) AS negative_clientid,
    CAST(SUM(CASE WHEN r.reason = 'null_amount' THEN 1 ELSE 0 END) AS BIGINT) AS null_amount,
    CAST(SUM(CASE WHEN r.reason = 'null_time' THEN 1 ELSE 0 END) AS BIGINT) AS null_time,
    CAST(SUM(CASE WHEN r.reason = 'time_out_of_range' THEN 1 ELSE 0 END) AS BIGINT) AS time_out_of_range
FROM (
    SELECT
        CASE
            WHEN tt.typeid IS NULL THEN 'unknown_type'
            WHEN tt.nature <> tt.last_nature THEN 'ambiguous_type'
            WHEN tt.nature NOT IN ('income', 'expense') THEN 'other_nature'
            WHEN t.clientid IS NULL THEN 'null_clientid'
            WHEN t.clientid < 0 THEN 'negative_clientid'
            WHEN t.amount IS NULL THEN 'null_amount'
            WHEN t.time IS NULL THEN 'null_time'
            WHEN EXTRACT(YEAR FROM t.time) NOT BETWEEN 1 AND 9999 THEN 'time_out_of_range'
        END AS reason
    FROM contabyx.transactions AS t
    LEFT JOIN (
        SELECT typeid, MIN(nature) AS nature, MAX(nature) AS last_nature
        FROM contabyx.transactiontypes
        GROUP BY typeid
    ) AS tt ON tt.typeid = t.typeid
) AS r;
