-- Read/unread tracking (seed: "adds last_read_message_id column", 000439): a chat has unread
-- messages when a live assistant message is newer than this watermark. Deliberately no foreign
-- key: messages can be truncated and the column is only a high-water mark.
-- Backfill: every existing chat counts as read up to its newest non-deleted assistant message,
-- so upgrading does not light up every old chat as unread. updated_at is not touched.

ALTER TABLE chats ADD COLUMN last_read_message_id bigint;

UPDATE chats AS c
SET last_read_message_id = newest.id
FROM (
    SELECT chat_id, max(id) AS id
    FROM chat_messages
    WHERE role = 'assistant' AND NOT deleted
    GROUP BY chat_id
) AS newest
WHERE newest.chat_id = c.id;
