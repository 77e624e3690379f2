CREATE TYPE mood AS ENUM ('happy', 'sad', 'so-so');
CREATE TABLE item (
    id bigint PRIMARY KEY,
    uid uuid NOT NULL,
    maybe_uid uuid,
    mood mood NOT NULL,
    maybe_mood mood,
    doc jsonb,
    raw json,
    docs jsonb[],
    created_at timestamptz NOT NULL,
    local_at timestamp,
    day date,
    at_time time,
    took interval,
    price numeric(12, 4),
    ratio double precision,
    small smallint,
    flag boolean NOT NULL,
    tags text[],
    nums int[],
    uids uuid[],
    blob bytea,
    addr inet,
    note text
);
CREATE TABLE tag (
    id bigint PRIMARY KEY,
    item_id bigint REFERENCES item,
    mood mood,
    meta jsonb NOT NULL
);
