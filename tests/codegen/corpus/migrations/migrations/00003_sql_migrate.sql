-- +migrate Up
CREATE TABLE labels (task_id bigint NOT NULL REFERENCES tasks (id), label text NOT NULL);
-- +migrate Down
DROP TABLE labels;
