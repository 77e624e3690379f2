-- Wall-clock duration of each assistant step (seed: "adds a runtime_ms column to
-- chat_messages"), the basis for billing by agent alive time. NULL on other messages.

ALTER TABLE chat_messages ADD COLUMN runtime_ms bigint;
