-- A per-user compaction threshold override (user_configs key chat_compaction_threshold:<id>)
-- is an integer percent 0..100, checked where it is written: the database refuses 150 or -7 on
-- every path, not only behind chatdb.validation (seed: "validates 0-100 range"). The CASE fixes
-- the order of evaluation, so a non-numeric value is refused instead of failing the cast.
-- NOT VALID: rows written before the check stay (ListUserChatCompactionThresholds skips a
-- malformed one, as the seed's handler does); every new or rewritten row is checked.

ALTER TABLE user_configs
    ADD CONSTRAINT user_configs_chat_compaction_threshold_check CHECK (
        CASE
            WHEN key NOT LIKE 'chat_compaction_threshold:%' THEN true
            WHEN value !~ '^[0-9]{1,3}$' THEN false
            ELSE value::integer <= 100
        END
    ) NOT VALID;
