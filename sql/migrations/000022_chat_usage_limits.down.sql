-- Drops the spend-limit config table, the per-user and per-group overrides and the spend index.

DROP INDEX idx_chat_messages_owner_spend;
ALTER TABLE groups DROP COLUMN chat_spend_limit_micros;
ALTER TABLE users DROP COLUMN chat_spend_limit_micros;
DROP TABLE chat_usage_limit_config;
