-- Chats are archived instead of hard-deleted (seed: "archive chats instead of hard-deleting
-- them", 000423), and the last error reason survives page reloads (seed: "persist last_error on
-- chats table"): set when a chat enters the error status, cleared on recovery.

ALTER TABLE chats ADD COLUMN archived boolean NOT NULL DEFAULT false;
ALTER TABLE chats ADD COLUMN last_error text;
