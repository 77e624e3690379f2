from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from psycopg.types.range import Range

from tests.codegen.typecheck import assert_typed, field_types


def check(db: ModuleType, conn: Any) -> None:
    q = db.Querier(conn)
    C = db.Color
    assert field_types(db.T) == {
        "id": "int",
        "colors": "list[Color]",
        "maybe_colors": "list[Color] | None",
        "home": "Address | None",
        "homes": "list[Address] | None",
        "place": "Place | None",
        "rank": "int",
        "ranks": "list[int] | None",
        "contact": "str | None",
        "path": "str | None",
        "box": "str | None",
        "span": "Range[int] | None",
        "during": "Range[datetime] | None",
    }
    assert field_types(db.Address) == {
        "street": "str | None",
        "number": "int | None",
        "color": "Color | None",
        "since": "datetime | None",
        "tags": "list[str] | None",
    }
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    home = db.Address('Main "St", 1 (b)', 7, C.BLUE_ISH, when, ["a b", "c,d", "{e}"])
    empty = db.Address(None, None, None, None, None)
    place = db.Place("home", home, [home, empty])
    q.put(
        id=1,
        colors=[C.RED, C.VALUE_4],
        maybe_colors=None,
        home=home,
        homes=[home, empty],
        place=place,
        rank=3,
        ranks=[1, 2],
        contact="a@b",
        path="a.b.c",
        box="(1, 2)",
        span=Range(1, 5),
        during=Range(when, None),
    )
    q.put(
        id=2,
        colors=[],
        maybe_colors=[C.GREEN],
        home=None,
        homes=None,
        place=None,
        rank=1,
        ranks=None,
        contact=None,
        path=None,
        box=None,
        span=None,
        during=None,
    )
    row = q.get(id=1)
    assert_typed(row)
    assert row.colors == [C.RED, C.VALUE_4] and row.home == home and row.homes == [home, empty]
    assert row.place == place and row.ranks == [1, 2] and row.path == "a.b.c"
    assert row.span == Range(1, 5) and row.during == Range(when, None)
    row2 = q.get(id=2)
    assert_typed(row2)
    assert (row2.colors, row2.maybe_colors, row2.home, row2.place) == ([], [C.GREEN], None, None)
    colors = q.colors_of(id=1)
    assert_typed(colors)
    assert colors.maybe_colors is None
    homes = q.homes(id=1)
    assert_typed(homes)
    assert homes.street == 'Main "St", 1 (b)'
    lit = q.literals()
    assert_typed(lit)
    assert lit.colors == [C.RED, C.VALUE_4]
    assert lit.addr == db.Address('Main "St", 1', 7, C.BLUE_ISH, when, ["a b", 'c"d'])
    assert lit.addrs == [db.Address("x", None, None, None, None)]
    assert field_types(db.SleepRow) == {"slept": "None"}
    assert q.sleep().slept is None
    assert q.touch().pg_sleep is None
    whole = q.whole_row(id=1)
    assert_typed(whole)
    assert whole.t == row
