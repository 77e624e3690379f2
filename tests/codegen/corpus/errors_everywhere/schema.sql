CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL);
-- Two tables whose class names cannot be told apart.
CREATE TABLE venue_rows (id int);
CREATE TABLE "venue-rows" (id int);
