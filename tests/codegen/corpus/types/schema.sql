CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS cube;
CREATE TYPE color AS ENUM ('red', 'green', 'blue-ish', '#');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE TYPE address AS (street text, number int, color color, since timestamptz, tags text[]);
CREATE TYPE place AS (name text, home address, visits address[]);
CREATE TABLE t (
    id int PRIMARY KEY,
    colors color[] NOT NULL,
    maybe_colors color[],
    home address,
    homes address[],
    place place,
    rank positive NOT NULL,
    ranks positive[],
    contact email,
    path ltree,
    box cube,
    span int4range,
    during tstzrange
);
