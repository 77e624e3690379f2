-- Drops the labels column with its check and GIN index.

DROP INDEX idx_chats_labels;
ALTER TABLE chats DROP COLUMN labels;
