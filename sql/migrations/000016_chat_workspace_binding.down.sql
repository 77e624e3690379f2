-- Drops the build/agent binding.

DROP INDEX idx_chats_agent_id;
ALTER TABLE chats DROP COLUMN agent_id, DROP COLUMN build_id;
