-- Drops plan mode (column, enum, and the MCP plan-mode toggle).

ALTER TABLE mcp_server_configs DROP COLUMN allow_in_plan_mode;
ALTER TABLE chats DROP COLUMN plan_mode;
DROP TYPE chat_plan_mode;
