-- A chat remembers the workspace build and agent it actually talks to (seed: "persists the
-- workspace/build/agent binding it actually uses"), so the hot path dials the bound agent instead
-- of resolving the latest build on every turn. Both are cleared when the build or agent goes.

ALTER TABLE chats
    ADD COLUMN build_id uuid,
    ADD COLUMN agent_id uuid,
    ADD CONSTRAINT chats_build_id_fkey
        FOREIGN KEY (build_id) REFERENCES workspace_builds (id) ON DELETE SET NULL,
    ADD CONSTRAINT chats_agent_id_fkey
        FOREIGN KEY (agent_id) REFERENCES workspace_agents (id) ON DELETE SET NULL;

CREATE INDEX idx_chats_agent_id ON chats (agent_id) WHERE agent_id IS NOT NULL;
