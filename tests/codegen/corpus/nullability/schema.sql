CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE authors (
    id bigserial PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    bio text,
    "note!" text,
    rating int CHECK (rating > 0),
    code text NOT NULL CHECK (length(code) > 0)
);
CREATE TABLE books (
    id bigserial PRIMARY KEY,
    author_id bigint REFERENCES authors (id),
    title text NOT NULL,
    price numeric
);
CREATE SEQUENCE tickets;
CREATE FUNCTION maybe_null(x int) RETURNS text LANGUAGE sql STRICT AS $$ SELECT NULL::text $$;
