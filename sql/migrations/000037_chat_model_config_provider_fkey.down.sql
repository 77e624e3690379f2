-- The providers created for orphaned model configs stay; only the key goes.

ALTER TABLE chat_model_configs DROP CONSTRAINT chat_model_configs_provider_fkey;
