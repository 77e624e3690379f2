-- Drops the model_intent toggle.

ALTER TABLE mcp_server_configs DROP COLUMN model_intent;
