-- Drops the provider response id.

ALTER TABLE chat_messages DROP COLUMN provider_response_id;
