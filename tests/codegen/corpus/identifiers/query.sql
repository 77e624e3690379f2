-- name: In :many
SELECT * FROM "x-venues" WHERE id = ANY(@ids::int[]) ORDER BY id;

-- name: Conn :exec
INSERT INTO "x-venues" (id, "class", "from", "1st", "x y", "self", m)
VALUES (@id, @class, @from, @first, @xy, @self, @m);

-- name: Class :one
SELECT "class", "from" AS "def", "1st", "x y", m FROM "x-venues" WHERE id = @id;

-- name: Marks :many
SELECT unnest(enum_range(NULL::mark))::mark AS m;

-- name: AddUser :exec
INSERT INTO users (id, name) VALUES (@id, @name);

-- name: AddAuthUser :exec
INSERT INTO auth.users (id, password_hash) VALUES (@id, @password_hash);

-- name: GetUser :one
SELECT * FROM users WHERE id = @id;

-- name: GetAuthUser :one
SELECT * FROM auth.users WHERE id = @id;

-- name: AddStatus :one
INSERT INTO statuses (id, s) VALUES (@id, @s) RETURNING *;

-- name: None :one
INSERT INTO "none" (id) VALUES (@id) RETURNING *;

-- name: Decimals :many
SELECT * FROM "decimal";

-- name: Größe :one
SELECT 1 AS "größe";
