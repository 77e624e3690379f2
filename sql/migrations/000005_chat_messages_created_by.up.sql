-- Who sent a message (seed: "add created_by column to chat_messages table"). Only user-sent
-- messages carry it; deliberately no foreign key, like the original.

ALTER TABLE chat_messages ADD COLUMN created_by uuid;
