-- Secrets never in clear once a key exists (SPEC 9). Before this, any writer (the plain
-- querier, a ProviderConfig built without ciphers, a hand-written INSERT) could store a secret
-- as given next to active dbcrypt keys. Now each secret column refuses a non-empty value with a
-- NULL <secret>_key_id while dbcrypt_keys holds an active key; rows written before the first
-- key stay as they are (rotation encrypts them) and may be rewritten unchanged.
--
-- The error names the table and column, never the value (sqlstate SC001, classified by
-- chatdb.errors as UnencryptedSecret).
CREATE FUNCTION chatdb_refuse_clear_secret() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- Arguments are (secret column, key id column) pairs.
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END;
    secret text;
    key_id text;
    i int := 0;
BEGIN
    WHILE i < TG_NARGS LOOP
        secret := TG_ARGV[i];
        key_id := TG_ARGV[i + 1];
        IF new_row ->> key_id IS NULL
            AND new_row ->> secret <> ''
            AND (old_row IS NULL
                 OR old_row -> secret IS DISTINCT FROM new_row -> secret
                 OR old_row -> key_id IS DISTINCT FROM new_row -> key_id)
        THEN
            -- Key registration and rotation lock dbcrypt_keys in SHARE ROW EXCLUSIVE mode: this
            -- waits for them, so a clear write either sees the new key or commits before
            -- rotation scans for clear rows.
            LOCK TABLE dbcrypt_keys IN SHARE MODE;
            IF EXISTS (SELECT 1 FROM dbcrypt_keys WHERE active_key_digest IS NOT NULL) THEN
                RAISE EXCEPTION 'refusing to store %.% in clear: an active dbcrypt key exists',
                    TG_TABLE_NAME, secret
                    USING ERRCODE = 'SC001', TABLE = TG_TABLE_NAME, COLUMN = secret,
                          HINT = 'encrypt it with chatdb.dbcrypt and set ' || key_id;
            END IF;
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NEW;
END
$$;

CREATE TRIGGER chat_providers_refuse_clear_secret
    BEFORE INSERT OR UPDATE ON chat_providers
    FOR EACH ROW EXECUTE FUNCTION chatdb_refuse_clear_secret('api_key', 'api_key_key_id');

CREATE TRIGGER mcp_server_configs_refuse_clear_secret
    BEFORE INSERT OR UPDATE ON mcp_server_configs
    FOR EACH ROW EXECUTE FUNCTION chatdb_refuse_clear_secret(
        'oauth2_client_secret', 'oauth2_client_secret_key_id',
        'api_key_value', 'api_key_value_key_id',
        'custom_headers', 'custom_headers_key_id'
    );

CREATE TRIGGER mcp_server_user_tokens_refuse_clear_secret
    BEFORE INSERT OR UPDATE ON mcp_server_user_tokens
    FOR EACH ROW EXECUTE FUNCTION chatdb_refuse_clear_secret(
        'access_token', 'access_token_key_id',
        'refresh_token', 'refresh_token_key_id'
    );
