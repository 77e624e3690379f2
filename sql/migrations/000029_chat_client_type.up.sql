-- Where a chat was created (seed: "Add a chat_client_type enum (ui | api) ... The column defaults
-- to api for new rows ... Existing rows are backfilled to ui"). Adding the column with DEFAULT
-- 'ui' marks every existing chat 'ui' without rewriting the table (the default is stored once in
-- the catalog); switching the default to 'api' afterwards only affects new rows. Same result as
-- ADD ... DEFAULT 'api' followed by UPDATE chats SET client_type = 'ui', without the rewrite.

CREATE TYPE chat_client_type AS ENUM ('ui', 'api');

ALTER TABLE chats ADD COLUMN client_type chat_client_type NOT NULL DEFAULT 'ui';
ALTER TABLE chats ALTER COLUMN client_type SET DEFAULT 'api';
