-- Drops the per-queued-message model.

ALTER TABLE chat_queued_messages DROP COLUMN model_config_id;
