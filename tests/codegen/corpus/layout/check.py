from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

from tests.codegen.typecheck import assert_all_typed, assert_typed, field_types


def check(db: ModuleType, conn: Any) -> None:
    # Digit-leading and clashing file names get valid module names.
    for module, cls in [
        ("q_01_authors", "Q01AuthorsQueries"),
        ("models_queries", "ModelsQueriesQueries"),
        ("q_2nd_file", "Q2ndFileQueries"),
    ]:
        assert hasattr(importlib.import_module(f"{db.__name__}.{module}"), cls)
    q = db.Querier(conn)
    # The doc comment above the name line is the method's documentation.
    doc = inspect.getdoc(q.create_author) or ""
    assert doc.startswith("CreateAuthor adds an author. The bio is optional."), doc
    assert "file header" not in doc
    assert (inspect.getdoc(q.get_author) or "").startswith("GetAuthor reads one author.")
    assert "Annotations and docs" in (inspect.getdoc(q.rename_author) or "")
    ann = q.create_author(name="Ann", bio=None)
    bob = q.create_author(name="Bob", bio="b")
    assert_typed(ann)
    assert q.count_authors().n == 2
    assert [r.name for r in q.author_names()] == ["Ann", "Bob"]
    q.rename_author(name="Anne", id=ann.id)
    assert q.get_author(id=ann.id).name == "Anne"
    rows = q.authors_with_bio()
    assert_all_typed(rows)
    assert field_types(db.AuthorsWithBioRow) == {"id": "int", "bio": "str"}
    assert [(r.id, r.bio) for r in rows] == [(bob.id, "b")]
    # :iter yields rows as the cursor reads them.
    it = q.iter_authors()
    assert [(r.id, r.name) for r in it] == [(ann.id, "Anne"), (bob.id, "Bob")]
    assert q.delete_author(id=bob.id) == 1
    # The unnamed statement generated nothing.
    assert set(db.QUERIES) == {
        "CreateAuthor",
        "GetAuthor",
        "CountAuthors",
        "AuthorNames",
        "RenameAuthor",
        "DeleteAuthor",
        "AuthorsWithBio",
        "IterAuthors",
    }
