CREATE TYPE mark AS ENUM ('#', '*', '0', 'foo-a', 'foo_a', 'class', 'None', 'in-between');
CREATE TYPE status AS ENUM ('open', 'closed');
CREATE TABLE "x-venues" (
    id int PRIMARY KEY,
    "class" text NOT NULL,
    "from" int,
    "1st" text,
    "x y" text,
    "self" text,
    m mark NOT NULL
);
-- An enum and a table that would both be `Status`.
CREATE TABLE statuses (id int PRIMARY KEY, s status NOT NULL);
-- The same table name in two schemas.
CREATE SCHEMA auth;
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE auth.users (id int PRIMARY KEY, password_hash text NOT NULL);
-- A table named like a Python keyword and one like an imported name.
CREATE TABLE "none" (id int PRIMARY KEY);
CREATE TABLE "decimal" (id int PRIMARY KEY);
