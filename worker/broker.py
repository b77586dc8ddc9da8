"""kombu's Sentinel transport, with the one fix a failover needs (a sentinel:// REDIS_URL).

Measured (tests/integration/test_sentinel_failover.py, kombu 5.7.0, Celery 5.7.0): when the
primary dies, Celery's consumer first `collect()`s the broken connection, which drops the
transport's `client`, and then closes the connection. That close restores the unacked
messages, which needs a new pool, which kombu builds from `connection.client`, now None:
`AttributeError: 'NoneType' object has no attribute 'hostname'`, which Celery does not
ignore ("Unrecoverable error"): the worker exits. One of two workers died so in the first
run. kombu's plain Redis channel takes the same path but is saved by its connection
class, whose disconnect hook forgets the dead socket; the Sentinel channel's managed
connection has no such hook.

Then a task that ends after the reconnect acknowledges (or gives back) its message on the
old, closed channel: the same missing pool, the same exit.

The fix: a channel whose transport was torn down restores nothing, does not read the dead
socket, and leaves late acknowledgements and rejections undone. Nothing is lost by that:
the messages stay in kombu's `unacked` hash (the new primary's copy of it), and kombu's
sweep puts them back after NOTIFY_VISIBILITY_TIMEOUT, as for a worker that died (and the
claim acknowledges a copy of a job already final without sending it).

`register()` makes `sentinel://` mean this transport in this process, for the first
connection and for every alternate kombu switches to (`Connection.switch` re-reads the
transport from the URL's scheme, so a `broker_transport` setting would not last).
"""

from __future__ import annotations

from kombu import transport
from kombu.transport import redis as kombu_redis

#: Where `TRANSPORT_ALIASES` finds the transport below.
TRANSPORT = "worker.broker:SentinelTransport"


class SentinelChannel(kombu_redis.SentinelChannel):
    def _torn_down(self) -> bool:
        """The transport is gone (closed, or collected after a lost connection)."""
        return self.connection is None or self.connection.client is None

    def close(self) -> None:
        if not self.closed and self._torn_down():
            self._in_poll = None  # type: ignore[assignment]  # its socket went with the primary
            self._qos = None  # unacked messages come back through kombu's sweep
        super().close()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        # A task that ends after its channel was closed (the reconnect happened while it
        # ran): its message stays unacked and comes back after the visibility timeout,
        # where the claim acknowledges the copy unsent (its job is final).
        if not self._torn_down():
            super().basic_ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        # The same for a message given back: the sweep gives it back instead.
        if not self._torn_down():
            super().basic_reject(delivery_tag, requeue)


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


def register() -> None:
    """`sentinel://` URLs use `SentinelTransport` in this process."""
    transport.TRANSPORT_ALIASES["sentinel"] = TRANSPORT
