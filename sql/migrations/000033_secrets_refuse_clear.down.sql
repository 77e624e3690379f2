-- Reverts 000033: secret columns accept clear text again.
DROP TRIGGER mcp_server_user_tokens_refuse_clear_secret ON mcp_server_user_tokens;
DROP TRIGGER mcp_server_configs_refuse_clear_secret ON mcp_server_configs;
DROP TRIGGER chat_providers_refuse_clear_secret ON chat_providers;
DROP FUNCTION chatdb_refuse_clear_secret();
