-- The per-client and per-client-month figures that the sync copies to DynamoDB.
-- Valid Redshift SQL; the same statements run on the local warehouse.
--
-- Only 'income' and 'expense' transactions count. A row whose type is unknown
-- (no matching transactiontypes row), whose nature is anything else (such as
-- 'transfer'), or whose clientid, amount or time is NULL (possible in Spectrum
-- history, which has no NOT NULL constraint) is left out of both views alike, so
-- that a client's total is always the sum of its months; contabyx.source_rejects
-- counts what was left out and why.
--
-- `contabyx-etl create-views --spectrum-schema S` replaces each
-- "contabyx.transactions AS t" below by the UNION ALL of contabyx.transactions and
-- S.transactions, and adds WITH NO SCHEMA BINDING (Redshift requires it for views
-- over external tables). Nothing else changes.

CREATE OR REPLACE VIEW contabyx.clients_info AS
SELECT
    t.clientid AS clientid,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN t.amount ELSE -t.amount END) AS DECIMAL(18, 2)) AS balance,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN t.amount ELSE 0 END) AS DECIMAL(18, 2)) AS income,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN t.amount ELSE 0 END) AS DECIMAL(18, 2)) AS expense,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN 1 ELSE 0 END) AS BIGINT) AS income_count,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN 1 ELSE 0 END) AS BIGINT) AS expense_count
FROM contabyx.transactions AS t
JOIN contabyx.transactiontypes AS tt ON tt.typeid = t.typeid
WHERE tt.nature IN ('income', 'expense')
  AND t.clientid IS NOT NULL
  AND t.amount IS NOT NULL
  AND t.time IS NOT NULL
GROUP BY t.clientid;

CREATE OR REPLACE VIEW contabyx.clients_info_by_month AS
SELECT
    t.clientid AS clientid,
    CAST(EXTRACT(YEAR FROM t.time) AS INTEGER) AS year,
    CAST(EXTRACT(MONTH FROM t.time) AS INTEGER) AS month,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN t.amount ELSE 0 END) AS DECIMAL(18, 2)) AS income,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN t.amount ELSE 0 END) AS DECIMAL(18, 2)) AS expense,
    CAST(SUM(CASE WHEN tt.nature = 'income' THEN 1 ELSE 0 END) AS BIGINT) AS income_count,
    CAST(SUM(CASE WHEN tt.nature = 'expense' THEN 1 ELSE 0 END) AS BIGINT) AS expense_count
FROM contabyx.transactions AS t
JOIN contabyx.transactiontypes AS tt ON tt.typeid = t.typeid
WHERE tt.nature IN ('income', 'expense')
  AND t.clientid IS NOT NULL
  AND t.amount IS NOT NULL
  AND t.time IS NOT NULL
GROUP BY t.clientid, EXTRACT(YEAR FROM t.time), EXTRACT(MONTH FROM t.time);

CREATE OR REPLACE VIEW contabyx.source_rejects AS
SELECT
    CAST(SUM(CASE WHEN tt.typeid IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unknown_type,
    CAST(SUM(CASE WHEN tt.typeid IS NOT NULL AND tt.nature NOT IN ('income', 'expense') THEN 1 ELSE 0 END) AS BIGINT) AS other_nature,
    CAST(SUM(CASE WHEN t.clientid IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS null_clientid,
    CAST(SUM(CASE WHEN t.amount IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS null_amount,
    CAST(SUM(CASE WHEN t.time IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS null_time
FROM contabyx.transactions AS t
LEFT JOIN contabyx.transactiontypes AS tt ON tt.typeid = t.typeid;
