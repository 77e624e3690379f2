-- Persistent plan mode (seed: "add persistent plan mode for chats"): NULL = normal turns,
-- 'plan' = planning turns where implementation tools are blocked. MCP servers are blocked in
-- plan mode unless an admin allows them.

CREATE TYPE chat_plan_mode AS ENUM ('plan');

ALTER TABLE chats ADD COLUMN plan_mode chat_plan_mode;

ALTER TABLE mcp_server_configs ADD COLUMN allow_in_plan_mode boolean NOT NULL DEFAULT false;
