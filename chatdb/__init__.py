"""chatdb: the SQL-first, generated, authorized database layer of an AI-agent chat service."""
