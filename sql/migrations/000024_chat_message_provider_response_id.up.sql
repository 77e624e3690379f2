-- The provider's id for the response that produced a message, to correlate with provider logs
-- and continue provider-side conversations.

ALTER TABLE chat_messages ADD COLUMN provider_response_id text;
