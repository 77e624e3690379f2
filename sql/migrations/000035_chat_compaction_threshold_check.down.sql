-- Overrides written meanwhile stay; only the check goes.

ALTER TABLE user_configs DROP CONSTRAINT user_configs_chat_compaction_threshold_check;
