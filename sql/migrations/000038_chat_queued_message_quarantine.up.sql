-- Queued messages that cannot be delivered (issue 8, item 10). A queued row whose content
-- does not parse as a user message (a corrupt or hand-written row) used to fail every
-- promotion, so the queue behind it never moved. Promotion now moves such a row here, with
-- the reason, and goes on with the next one: the record keeps everything the queue held, so
-- nothing is silently dropped and an operator can see why it was not delivered.
-- No foreign key on model_config_id, as in chat_queued_messages: it is a record, not a link.

CREATE TABLE chat_queued_message_quarantine (
    id bigint PRIMARY KEY, -- the queued row's id
    chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    content jsonb NOT NULL,
    model_config_id uuid,
    queued_at timestamptz NOT NULL,
    reason text NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_chat_queued_message_quarantine_chat_id
    ON chat_queued_message_quarantine (chat_id);
