-- Client-executed dynamic tools (seed: "Adds client-executed dynamic tools to the chat API"):
-- a chat stores the tools its client declared, and pauses in the new requires_action status
-- until the client posts the tool results. The new enum value is not used in this transaction.

ALTER TYPE chat_status ADD VALUE 'requires_action';

ALTER TABLE chats ADD COLUMN dynamic_tools jsonb;
