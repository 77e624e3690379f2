from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any


def check(db: ModuleType, conn: Any) -> None:
    spec = importlib.util.spec_from_file_location(
        "params_typed", Path(__file__).with_name("typed.py")
    )
    assert spec is not None and spec.loader is not None
    typed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(typed)
    q = db.Querier(conn)
    assert typed.create_without_bio(q) == db.Profile(1, "Ann", None, None)
    assert typed.clear_bio(q) == 1
    typed.positional(q)
    params = inspect.signature(db.Querier.create_profile).parameters
    sig = {n: str(p.annotation) for n, p in params.items() if n != "self"}
    assert sig == {"id": "int", "name": "str", "bio": "str | None", "website": "str | None"}
    # Compared with `=`: required (a NULL would match nothing).
    assert (
        str(inspect.signature(db.Querier.find_by_website).parameters["website"].annotation) == "str"
    )
    # Written to a nullable column but also compared: stays required.
    assert (
        str(inspect.signature(db.Querier.set_bio_if_matches).parameters["bio"].annotation) == "str"
    )
    assert [r.id for r in q.find_by_website(website="x")] == []
