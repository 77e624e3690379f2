-- Who owns a chat or a file, and in which organization, never changes. The authorization
-- layer relies on it: it remembers (id -> owner, organization) per connection instead of
-- loading the row again for every check (chatdb/authz/objects.py). No query changes either
-- column; these triggers make that a promise of the database rather than of the query files.
-- A foreign-key cascade deletes such rows, it never rewrites them.
CREATE FUNCTION chatdb_refuse_identity_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the owner and organization of a % row never change', TG_TABLE_NAME
        USING ERRCODE = 'check_violation',
              TABLE = TG_TABLE_NAME,
              CONSTRAINT = TG_TABLE_NAME || '_identity_immutable';
END
$$;

CREATE TRIGGER chats_identity_immutable
    BEFORE UPDATE OF owner_id, organization_id ON chats
    FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION chatdb_refuse_identity_change();

CREATE TRIGGER chat_files_identity_immutable
    BEFORE UPDATE OF owner_id, organization_id ON chat_files
    FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION chatdb_refuse_identity_change();
