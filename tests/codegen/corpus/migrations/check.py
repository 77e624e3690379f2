from __future__ import annotations

from datetime import date
from types import ModuleType
from typing import Any

from tests.codegen.typecheck import assert_all_typed, assert_typed, field_types


def check(db: ModuleType, conn: Any) -> None:
    # Only the up sections ran: every table and column is there.
    assert [s.value for s in db.State] == ["open", "closed", "archived"]
    assert field_types(db.Task) == {
        "id": "int",
        "title": "str",
        "state": "State",
        "notes": "str | None",
        "due": "date | None",
        "archived_state": "State",
    }
    q = db.Querier(conn)
    task = q.add_task(title="t", state=db.State.OPEN, notes=None, due=date(2026, 1, 1))
    assert_typed(task)
    q.label(task_id=task.id, label="a")
    rows = q.task_labels()
    assert_all_typed(rows)
    assert [(r.title, r.label, r.archived_state) for r in rows] == [("t", "a", db.State.ARCHIVED)]
    assert q.audit() == []
