-- A small sqlc-style project written the way sqlc users write them (not our chat schema).
CREATE TYPE book_type AS ENUM ('FICTION', 'NONFICTION');

CREATE TABLE authors (
    author_id SERIAL PRIMARY KEY,
    name text NOT NULL DEFAULT '',
    bio text
);

CREATE INDEX authors_name_idx ON authors (name);

CREATE TABLE books (
    book_id SERIAL PRIMARY KEY,
    author_id integer NOT NULL REFERENCES authors (author_id),
    isbn text NOT NULL DEFAULT '' UNIQUE,
    book_type book_type NOT NULL DEFAULT 'FICTION',
    title text NOT NULL DEFAULT '',
    year integer NOT NULL DEFAULT 2000,
    available timestamp with time zone NOT NULL DEFAULT 'NOW()',
    tags varchar[] NOT NULL DEFAULT '{}'
);

CREATE FUNCTION say_hello(s text) RETURNS text AS $$
BEGIN
    RETURN CONCAT('hello ', s);
END;
$$ LANGUAGE plpgsql;

CREATE VIEW author_book_counts AS
SELECT a.author_id, a.name, count(b.book_id) AS books
FROM authors a LEFT JOIN books b ON b.author_id = a.author_id
GROUP BY a.author_id, a.name;
