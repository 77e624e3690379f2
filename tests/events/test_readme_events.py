"""The README's real-time events example runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chatdb.authz import Subject, as_actor
from chatdb.db import Querier
from chatdb.ops import Chats
from chatdb.store import Store

README = Path(__file__).resolve().parent.parent.parent / "README.md"

pytestmark = pytest.mark.timeout(60)


def test_the_events_example_runs_as_written(
    chatdb_dsn: str,
    store: Store[Querier],
    chats: Chats,
    alice: Subject,
    model: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = README.read_text()
    section = text[text.index("## Real-time events") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    with as_actor(alice):
        chat = chats.create_chat(organization_id=next(iter(alice.memberships)), title="t").chat
    namespace = {"dsn": chatdb_dsn, "store": store, "chats": chats, "me": alice, "chat_id": chat.id}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("messages.appended {'first': ")
    assert out[1] == "chat.status {'status': 'pending', 'worker': None}"
    assert out[2] == "pending"
