-- Per-MCP-server toggle that makes the model state the intent of each tool call (seed: "add a
-- per-MCP-server model_intent toggle").

ALTER TABLE mcp_server_configs ADD COLUMN model_intent boolean NOT NULL DEFAULT false;
