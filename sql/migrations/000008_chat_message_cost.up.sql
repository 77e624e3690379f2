-- Per-message cost in micro-dollars (seed: "add chat cost analytics backend"): NULL = unpriced,
-- 0 = free. Historical messages are backfilled from their model config's pricing, stored in
-- chat_model_configs.options->'cost' as dollars per million tokens under
-- input_price_per_million_tokens, output_price_per_million_tokens,
-- cache_read_price_per_million_tokens and cache_write_price_per_million_tokens.
--
-- Rules, the same as chatdb.cost (SPEC 10): tokens x price-per-million is the cost in micros of
-- each component; the components are summed exactly (numeric) and rounded UP once; reasoning
-- tokens are already part of output tokens and are not billed again; a message stays NULL when
-- its model has no price, or when none of its token counts has a matching price; prices that are
-- all zero give 0.
-- The index on created_at serves the cost analytics windows.

ALTER TABLE chat_messages ADD COLUMN total_cost_micros bigint;

-- A price: a JSON number or decimal string, 0 <= price < 1e9, at most 12 decimal places
-- (chatdb.cost's rules); anything else counts as not configured.
CREATE FUNCTION pg_temp.chat_price_per_million(cost jsonb, key text) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$
        SELECT CASE WHEN price < 1000000000 AND price = trunc(price, 12) THEN price END
        FROM (
            SELECT CASE
                WHEN jsonb_typeof(cost -> key) IN ('number', 'string')
                    AND btrim(cost ->> key) ~ '^[0-9]+(\.[0-9]+)?$'
                THEN btrim(cost ->> key)::numeric
            END AS price
        ) AS parsed
    $$;

WITH prices AS (
    SELECT
        id,
        pg_temp.chat_price_per_million(options -> 'cost', 'input_price_per_million_tokens')
            AS input_price,
        pg_temp.chat_price_per_million(options -> 'cost', 'output_price_per_million_tokens')
            AS output_price,
        pg_temp.chat_price_per_million(options -> 'cost', 'cache_read_price_per_million_tokens')
            AS cache_read_price,
        pg_temp.chat_price_per_million(options -> 'cost', 'cache_write_price_per_million_tokens')
            AS cache_write_price
    FROM chat_model_configs
)
UPDATE chat_messages AS m
SET total_cost_micros = ceil(
        coalesce(m.input_tokens, 0) * coalesce(p.input_price, 0)
        + coalesce(m.output_tokens, 0) * coalesce(p.output_price, 0)
        + coalesce(m.cache_read_tokens, 0) * coalesce(p.cache_read_price, 0)
        + coalesce(m.cache_creation_tokens, 0) * coalesce(p.cache_write_price, 0)
    )::bigint
FROM prices AS p
WHERE p.id = m.model_config_id
    AND (
        (m.input_tokens IS NOT NULL AND p.input_price IS NOT NULL)
        OR (m.output_tokens IS NOT NULL AND p.output_price IS NOT NULL)
        OR (m.cache_read_tokens IS NOT NULL AND p.cache_read_price IS NOT NULL)
        OR (m.cache_creation_tokens IS NOT NULL AND p.cache_write_price IS NOT NULL)
    );

DROP FUNCTION pg_temp.chat_price_per_million(jsonb, text);

CREATE INDEX idx_chat_messages_created_at ON chat_messages (created_at);
