"""Real-time chat events over PostgreSQL LISTEN/NOTIFY (see docs/events.md).

Workflows publish them in the transaction of the change (:mod:`chatdb.events.publish`);
a process receives them on one dedicated connection (:class:`Listener`) and hands them to
subscriptions, authorized per actor through :class:`ChatEvents`.
"""

from chatdb.events.hub import ChatEvents
from chatdb.events.listener import (
    DEFAULT_QUEUE_SIZE,
    Dropped,
    Item,
    Listener,
    Resync,
    Subscription,
    shared_listener,
)
from chatdb.events.model import (
    CHANNEL,
    MAX_PAYLOAD_BYTES,
    PENDING_CHANNEL,
    VERSION,
    Event,
    Kind,
    decode,
    encode,
)
from chatdb.events.publish import apublish, publish

__all__ = [
    "CHANNEL",
    "DEFAULT_QUEUE_SIZE",
    "MAX_PAYLOAD_BYTES",
    "PENDING_CHANNEL",
    "VERSION",
    "ChatEvents",
    "Dropped",
    "Event",
    "Item",
    "Kind",
    "Listener",
    "Resync",
    "Subscription",
    "apublish",
    "decode",
    "encode",
    "publish",
    "shared_listener",
]
