-- A model config belongs to a configured provider, as in the original schema
-- (chat_model_configs.provider REFERENCES chat_providers(provider) ON DELETE CASCADE): deleting
-- a provider deletes its model configs (and is refused while a chat or message still uses one
-- of them, since those references do not cascade).
--
-- Orphans first: a model config whose provider has no chat_providers row cannot satisfy the
-- key. It may be referenced by chats and messages, so it is kept, and its provider is created
-- disabled, without an API key: nothing runs on it until an admin configures the provider, and
-- its history stays intact. A provider name outside the list chat_providers accepts cannot be
-- created: the migration stops and names it (fix or delete those model configs, then rerun).

DO $$
DECLARE
    unknown text;
BEGIN
    SELECT string_agg(DISTINCT mc.provider, ', ' ORDER BY mc.provider) INTO unknown
    FROM chat_model_configs AS mc
    WHERE NOT EXISTS (SELECT 1 FROM chat_providers AS p WHERE p.provider = mc.provider)
        AND mc.provider NOT IN (
            'anthropic', 'azure', 'bedrock', 'google', 'openai', 'openai-compat', 'openrouter',
            'vercel'
        );
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'chat_model_configs name unknown providers: %', unknown
            USING HINT = 'point those model configs at a known provider or delete them';
    END IF;
END
$$;

INSERT INTO chat_providers (provider, display_name, enabled)
SELECT DISTINCT mc.provider, mc.provider, false
FROM chat_model_configs AS mc
WHERE NOT EXISTS (SELECT 1 FROM chat_providers AS p WHERE p.provider = mc.provider);

ALTER TABLE chat_model_configs
    ADD CONSTRAINT chat_model_configs_provider_fkey
        FOREIGN KEY (provider) REFERENCES chat_providers (provider) ON DELETE CASCADE;
