"""Metrics and traces are optional extras: without prometheus-client and opentelemetry-api
chatdb.observe still imports, measures nothing unless asked, and names the missing extra when
asked. Run in a fresh interpreter in which importing either library fails, as when neither is
installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parent.parent.parent

SCRIPT = textwrap.dedent(
    """
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("prometheus_client", "opentelemetry"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())

    from chatdb.db import AsyncQuerier, Querier
    from chatdb.observe import Instruments, async_instrumented_querier, instrumented_querier

    assert instrumented_querier(Instruments()) is Querier
    assert async_instrumented_querier(Instruments()) is AsyncQuerier
    # The slow-query log needs neither library.
    probe = Instruments(slow_query_seconds=10).probe("Q")
    probe.done(probe.start())
    for kwargs, extra in (({"metrics": True}, "chatdb[metrics]"), ({"tracing": True}, "chatdb[otel]")):
        try:
            Instruments(**kwargs)
        except ImportError as exc:
            assert extra in str(exc), exc
        else:
            raise AssertionError(f"{kwargs} worked without its library")
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ("prometheus_client", "opentelemetry"))
    assert not loaded, loaded
    print("ok")
    """
)


def test_observe_works_without_either_library_and_names_the_missing_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
