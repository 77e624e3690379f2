"""A deterministic schema dump (pg_dump --schema-only, minus its volatile lines)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from codegen.errors import CodegenError
from codegen.pgserver import find_pg_ctl


def find_pg_dump() -> str:
    try:
        sibling = Path(find_pg_ctl()).with_name("pg_dump")
        if sibling.exists():
            return str(sibling)
    except Exception:
        pass
    found = shutil.which("pg_dump")
    if not found:
        raise CodegenError("pg_dump not found: install the PostgreSQL client binaries")
    return found


def dump_schema(dsn: str, exclude_tables: tuple[str, ...] = ()) -> str:
    """The schema of the database at ``dsn`` as SQL, stable across runs and machines."""
    cmd = [find_pg_dump(), "--schema-only", "--no-owner", "--no-privileges", "--dbname", dsn]
    for table in exclude_tables:
        cmd += ["--exclude-table", table]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CodegenError(f"pg_dump failed: {proc.stderr.strip()}")
    lines: list[str] = []
    for line in proc.stdout.splitlines():
        # pg_dump's own comments, session settings and the random \restrict key vary by run.
        if line.startswith(
            ("--", "SET ", "SELECT pg_catalog.set_config", "\\restrict", "\\unrestrict")
        ):
            continue
        if not line.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(line)
    return "\n".join(lines).strip() + "\n"
