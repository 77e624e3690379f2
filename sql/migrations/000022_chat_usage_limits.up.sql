-- Chat spend limits: one deployment-wide config row (disabled until an admin enables it), with
-- per-user and per-group overrides as chat_spend_limit_micros columns (NULL = no override). The
-- partial index serves "spend of a user's chats in a period", which only sums priced messages.

CREATE TABLE chat_usage_limit_config (
    singleton boolean NOT NULL DEFAULT true,
    enabled boolean NOT NULL DEFAULT false,
    default_limit_micros bigint NOT NULL DEFAULT 0,
    period text NOT NULL DEFAULT 'month',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chat_usage_limit_config_singleton_key UNIQUE (singleton),
    CONSTRAINT chat_usage_limit_config_singleton_check CHECK (singleton),
    CONSTRAINT chat_usage_limit_config_default_limit_micros_check CHECK (default_limit_micros >= 0),
    CONSTRAINT chat_usage_limit_config_period_check CHECK (period IN ('day', 'week', 'month'))
);

INSERT INTO chat_usage_limit_config (singleton, enabled, default_limit_micros, period)
VALUES (true, false, 0, 'month');

ALTER TABLE users
    ADD COLUMN chat_spend_limit_micros bigint,
    ADD CONSTRAINT users_chat_spend_limit_micros_check
        CHECK (chat_spend_limit_micros IS NULL OR chat_spend_limit_micros > 0);

ALTER TABLE groups
    ADD COLUMN chat_spend_limit_micros bigint,
    ADD CONSTRAINT groups_chat_spend_limit_micros_check
        CHECK (chat_spend_limit_micros IS NULL OR chat_spend_limit_micros > 0);

CREATE INDEX idx_chat_messages_owner_spend
    ON chat_messages (chat_id, created_at)
    WHERE total_cost_micros IS NOT NULL;
