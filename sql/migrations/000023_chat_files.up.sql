-- Files attached to chats: user uploads and tool output such as screen recordings of the
-- computer-use agent (seed: "Recordings are saved to the database to the chat_files table",
-- up to 100 MB). created_at is indexed for the retention purge.

CREATE TABLE chat_files (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    name text NOT NULL DEFAULT '',
    mimetype text NOT NULL,
    data bytea NOT NULL,
    CONSTRAINT chat_files_pkey PRIMARY KEY (id),
    CONSTRAINT chat_files_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT chat_files_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE INDEX idx_chat_files_owner ON chat_files (owner_id);
CREATE INDEX idx_chat_files_org ON chat_files (organization_id);
CREATE INDEX idx_chat_files_created_at ON chat_files (created_at);
