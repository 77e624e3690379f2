-- +goose Up
-- +goose StatementBegin
CREATE TYPE state AS ENUM ('open', 'closed');
CREATE TABLE tasks (id bigserial PRIMARY KEY, title text NOT NULL, state state NOT NULL);
-- +goose StatementEnd

-- +goose Down
DROP TABLE tasks;
DROP TYPE state;
