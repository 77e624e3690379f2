-- A queued message remembers the model chosen when it was enqueued (seed: "Add nullable
-- chat_queued_messages.model_config_id, backfilled from chats.last_model_config_id"), so
-- promotion runs each message with its own model. Rows already queued get the chat's current
-- model, which is what promotion used for them before. No foreign key: promotion falls back to
-- the chat's model when the id is missing or no longer usable.

ALTER TABLE chat_queued_messages ADD COLUMN model_config_id uuid;

UPDATE chat_queued_messages AS q
SET model_config_id = c.last_model_config_id
FROM chats AS c
WHERE c.id = q.chat_id;
