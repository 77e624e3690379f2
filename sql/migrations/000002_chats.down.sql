-- Removes the chat tables and their enums.

DROP TABLE chat_queued_messages;
DROP TABLE chat_messages;
DROP TABLE chat_diff_statuses;
DROP TABLE chats;
DROP TABLE chat_model_configs;
DROP TABLE chat_providers;
DROP TYPE chat_message_visibility;
DROP TYPE chat_status;
