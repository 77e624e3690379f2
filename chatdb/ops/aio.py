"""The workflows for asyncio code: each call runs the synchronous workflow in a worker thread.

A workflow is a handful of statements in one transaction; running it on a thread of the
sync ``Store``'s pool keeps a single implementation of every rule (locking, validation,
authorization) instead of a second, async copy to keep in step. The actor set with
``as_actor`` travels with the call (``asyncio.to_thread`` copies the context).

Cancellation rolls back. Cancelling the awaiting task (``task.cancel()``,
``asyncio.timeout``, ``asyncio.wait_for``) interrupts the statement in flight and the
transaction rolls back: the call raises ``CancelledError`` (or the timeout's ``TimeoutError``)
and nothing was written, so the caller may simply retry. The one exception is a cancellation
that arrives after the workflow reached its COMMIT: the work is then done, and the call
finishes and returns its result as if the cancellation had come a moment later. Either way,
what the caller is told matches what the database holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from chatdb.ops.facade import Chats
from chatdb.store import CommitGate, cancellable

P = ParamSpec("P")
T = TypeVar("T")


def _in_thread(
    method: Callable[Concatenate[Chats, P], T],
) -> Callable[Concatenate[AsyncChats, P], Coroutine[Any, Any, T]]:
    async def call(self: AsyncChats, /, *args: P.args, **kwargs: P.kwargs) -> T:
        gate = CommitGate()

        def run() -> T:
            with cancellable(gate):
                return method(self.chats, *args, **kwargs)

        work = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            if gate.cancel():
                # Rolled back (or about to): wait for the thread so the connection is back in
                # the pool and nothing is still running when the caller hears "cancelled".
                with contextlib.suppress(Exception):
                    await work
                raise
            return await work  # past COMMIT: the work is done, report it

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class AsyncChats:
    """``await``-able twins of every :class:`Chats` workflow, same arguments and results.

    A cancelled call rolls back (see the module documentation).
    """

    def __init__(self, chats: Chats) -> None:
        self.chats = chats

    create_chat = _in_thread(Chats.create_chat)
    list_chats = _in_thread(Chats.list_chats)
    update_chat = _in_thread(Chats.update_chat)
    archive = _in_thread(Chats.archive)
    unarchive = _in_thread(Chats.unarchive)
    pin = _in_thread(Chats.pin)
    unpin = _in_thread(Chats.unpin)
    reorder_pin = _in_thread(Chats.reorder_pin)
    mark_read = _in_thread(Chats.mark_read)
    refresh_workspace_binding = _in_thread(Chats.refresh_workspace_binding)
    send_message = _in_thread(Chats.send_message)
    promote_queued = _in_thread(Chats.promote_queued)
    auto_promote = _in_thread(Chats.auto_promote)
    edit_message = _in_thread(Chats.edit_message)
    submit_tool_results = _in_thread(Chats.submit_tool_results)
    upload_file = _in_thread(Chats.upload_file)
    acquire_chats = _in_thread(Chats.acquire_chats)
    heartbeat = _in_thread(Chats.heartbeat)
    recover_stale_chats = _in_thread(Chats.recover_stale_chats)
    purge_chats = _in_thread(Chats.purge_chats)
    purge_expired_chats = _in_thread(Chats.purge_expired_chats)
    check_usage_limit = _in_thread(Chats.check_usage_limit)
    report_git_reference = _in_thread(Chats.report_git_reference)
    record_pull_request = _in_thread(Chats.record_pull_request)
