-- A chat's mode, e.g. the computer-use sub-agent that drives a virtual desktop (seed: "chat
-- desktop backend") or a read-only explore agent. NULL is the normal agent.

CREATE TYPE chat_mode AS ENUM ('computer_use', 'explore');

ALTER TABLE chats ADD COLUMN mode chat_mode;
