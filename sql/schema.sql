-- The source schema: the contract with the warehouse. Valid Redshift SQL.
-- nature is 'income' or 'expense'; rows of any other nature (such as
-- 'transfer') are neither money in nor money out and are ignored downstream.
--
-- Table attributes, for what the sync reads: every statement is a clientid range
-- grouped by clientid. SORTKEY (clientid) lets each range read only the blocks of
-- its clients (zone maps) instead of the whole table; DISTKEY (clientid) keeps
-- each client's rows on one slice, so GROUP BY clientid needs no redistribution.
-- transactiontypes is small: DISTSTYLE ALL puts a copy on every node, so the join
-- moves no data. The local PostgreSQL gets this file without the attributes
-- (devstack.warehouse.apply_schema).
CREATE SCHEMA IF NOT EXISTS contabyx;
CREATE TABLE IF NOT EXISTS contabyx.transactiontypes (typeid INTEGER NOT NULL, name VARCHAR(64), nature VARCHAR(16) NOT NULL)
DISTSTYLE ALL;
CREATE TABLE IF NOT EXISTS contabyx.transactions (transactionid BIGINT NOT NULL, clientid BIGINT NOT NULL, typeid INTEGER NOT NULL, time TIMESTAMP NOT NULL, amount DECIMAL(12,2) NOT NULL)
DISTSTYLE KEY DISTKEY (clientid) COMPOUND SORTKEY (clientid);
