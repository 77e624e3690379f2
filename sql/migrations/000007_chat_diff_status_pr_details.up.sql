-- Richer pull-request status from the git sync worker (seeds: "add PR title, draft, and status
-- icons" 000432, "enrich PR status with author, base branch, review info", "add head_branch to
-- pull request diff status" 000438).

ALTER TABLE chat_diff_statuses
    ADD COLUMN pull_request_title text NOT NULL DEFAULT '',
    ADD COLUMN pull_request_draft boolean NOT NULL DEFAULT false,
    ADD COLUMN author_login text,
    ADD COLUMN author_avatar_url text,
    ADD COLUMN base_branch text,
    ADD COLUMN pr_number integer,
    ADD COLUMN commits integer,
    ADD COLUMN approved boolean,
    ADD COLUMN reviewer_count integer,
    ADD COLUMN head_branch text;
