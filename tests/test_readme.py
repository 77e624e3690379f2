"""The README's quickstart runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quickstart_runs_as_written(
    chatdb_empty_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    monkeypatch.setenv("CHATDB_DSN", chatdb_empty_dsn)
    exec(compile(code.group(1), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "True"
    assert out[1].startswith("Flaky login test pending")
    assert out[-2] == "['Flaky login test']"
    assert out[-1] == "2"  # both follow-ups wait in the queue


def test_testing_example_passes(chatdb_factories: object, chatdb_querier: object) -> None:
    text = README.read_text()
    section = text[text.index("## Testing your service") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    (test,) = [v for k, v in namespace.items() if k.startswith("test_")]
    test(chatdb_factories, chatdb_querier)  # type: ignore[operator]
