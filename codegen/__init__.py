"""chatdb codegen: compiles sqlc-style .sql files into a typed Python query layer."""
