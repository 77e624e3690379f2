-- Drops the record of undeliverable queued messages.

DROP TABLE chat_queued_message_quarantine;
