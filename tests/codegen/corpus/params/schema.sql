CREATE TABLE profiles (
    id int PRIMARY KEY,
    name text NOT NULL,
    bio text,
    website text
);
