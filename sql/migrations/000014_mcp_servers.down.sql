-- Drops the per-chat MCP selection and the MCP tables.

ALTER TABLE chats DROP COLUMN mcp_server_ids;
DROP TABLE mcp_server_user_tokens;
DROP TABLE mcp_server_configs;
