-- Drops the injected-context cache.

ALTER TABLE chats DROP COLUMN last_injected_context;
