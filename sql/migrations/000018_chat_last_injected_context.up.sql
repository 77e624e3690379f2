-- Cache of the most recently injected context parts (AGENTS.md context files and skills), with
-- internal fields stripped (seed: "migration 000456 adds nullable last_injected_context JSONB").

ALTER TABLE chats ADD COLUMN last_injected_context jsonb;
