from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.codegen.typecheck import assert_all_typed, assert_typed, field_types


def check(db: ModuleType, conn: Any) -> None:
    # Enum labels: documented member names, every value round-trips through the server.
    assert [(m.name, m.value) for m in db.Mark] == [
        ("VALUE_1", "#"),
        ("VALUE_2", "*"),
        ("V_0", "0"),
        ("FOO_A", "foo-a"),
        ("FOO_A_2", "foo_a"),
        ("CLASS", "class"),
        ("NONE", "None"),
        ("IN_BETWEEN", "in-between"),
    ]
    q = db.Querier(conn)
    assert [r.m for r in q.marks()] == list(db.Mark)
    assert_all_typed(q.marks())
    # A table "x-venues" and columns named like keywords or not identifiers at all.
    assert field_types(db.XVenue) == {
        "id": "int",
        "class_": "str",
        "from_": "int | None",
        "column_4": "str | None",
        "x_y": "str | None",
        "self_": "str | None",
        "m": "Mark",
    }
    for i, mark in enumerate(db.Mark):
        q.conn_(id=i, class_="c", from_=None, first="1", xy=None, self_="s", m=mark)
    rows = q.in_(ids=[0, 4])
    assert_all_typed(rows)
    assert [(r.id, r.m) for r in rows] == [(0, db.Mark.VALUE_1), (4, db.Mark.FOO_A_2)]
    row = q.class_(id=3)
    assert_typed(row)
    assert (row.class_, row.def_, row.column_3, row.x_y, row.m) == ("c", None, "1", None, "foo-a")
    # Two schemas, two models.
    q.add_user(id=1, name="u")
    q.add_auth_user(id=1, password_hash="h")
    assert q.get_user(id=1) == db.User(1, "u")
    assert q.get_auth_user(id=1) == db.AuthUser(1, "h")
    # The enum keeps `Status`; the table falls back to its own name.
    assert q.add_status(id=1, s=db.Status.OPEN) == db.Statuses(1, db.Status.OPEN)
    assert q.none(id=5) == db.None_(5)
    assert q.decimals() == []
    assert q.größe().größe == 1
    assert db.Decimal_.__name__ == "Decimal_"
