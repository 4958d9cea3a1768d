-- The source schema: the contract with the warehouse. Valid Redshift SQL.
-- nature is 'income' or 'expense'; rows of any other nature (such as
-- 'transfer') are neither money in nor money out and are ignored downstream.
CREATE SCHEMA IF NOT EXISTS contabyx;
CREATE TABLE IF NOT EXISTS contabyx.transactiontypes (typeid INTEGER NOT NULL, name VARCHAR(64), nature VARCHAR(16) NOT NULL);
CREATE TABLE IF NOT EXISTS contabyx.transactions (transactionid BIGINT NOT NULL, clientid BIGINT NOT NULL, typeid INTEGER NOT NULL, time TIMESTAMP NOT NULL, amount DECIMAL(12,2) NOT NULL);
