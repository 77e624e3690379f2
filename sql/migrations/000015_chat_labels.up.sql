-- General-purpose string->string labels on chats (seed: "Migration 000451: adds labels jsonb NOT
-- NULL DEFAULT '{}'"), matched with jsonb containment (@>) through a GIN index. Keys and values
-- are validated by the library; the database only insists on a JSON object.

ALTER TABLE chats ADD COLUMN labels jsonb NOT NULL DEFAULT '{}';
ALTER TABLE chats ADD CONSTRAINT chats_labels_object_check CHECK (jsonb_typeof(labels) = 'object');

CREATE INDEX idx_chats_labels ON chats USING gin (labels);
