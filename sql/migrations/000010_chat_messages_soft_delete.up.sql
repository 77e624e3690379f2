-- Messages are never physically deleted (seed: "add deleted column to chat_messages", 000444):
-- editing or truncating a conversation marks rows deleted so their tokens and cost still count
-- in usage and spend.

ALTER TABLE chat_messages ADD COLUMN deleted boolean NOT NULL DEFAULT false;
