-- name: CreateProfile :one
INSERT INTO profiles (id, name, bio, website) VALUES (@id, @name, @bio, sqlc.arg(website))
RETURNING *;

-- name: UpdateBio :execrows
UPDATE profiles SET bio = @bio WHERE id = @id;

-- name: FindByWebsite :many
SELECT id FROM profiles WHERE website = @website ORDER BY id;

-- name: SetBioIfMatches :execrows
UPDATE profiles SET bio = @bio WHERE bio = @bio OR id = @id;

-- name: CreateProfilePositional :exec
INSERT INTO profiles (id, name, bio) VALUES ($1, $2, $3);
