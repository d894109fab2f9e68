"""kombu's Redis transport, with the restore on close made safe for a broker outage.

When the broker connection drops with tasks in flight, Celery's consumer closes the
connection, and kombu 5.7's Redis channel restores the unacknowledged messages on close
through a new connection pool built from the transport's client, which the closing
connection may already have detached.  That raises ``AttributeError("'NoneType' object has
no attribute 'hostname'")``; Celery's ``ignore_errors`` lets only connection errors pass, so
the worker logs "Unrecoverable error" and exits with every later prediction hanging (issue 20
item 1: seen in 2 of 2 tries from outside, and once in CI on 2026-12-04 after ten quiet
tries).  Here that case is what it stands for, a restore the broker cannot take: the messages
stay in Redis's unacked hash, and the visibility-timeout sweep
(``CELERY_BROKER_RESTORE_INTERVAL_SECONDS``) puts them back, as it does for a restore that
failed because Redis was unreachable.  Any other AttributeError is raised as before.

The same detached connection met a task that finished after its broker connection was
closed and reopened: Celery acknowledges it on the channel it came from, kombu builds a
client for that channel from the detached connection, and the ``AttributeError("'NoneType'
object has no attribute 'client'")`` killed the worker (issue 20 item 1, found by
tests/test_faults_redis.py on 2026-12-06).  Here the acknowledgement goes to the same Redis
through a client of its own, made from the address the channel was opened with; if Redis
cannot take it either, the task stays unacknowledged and the visibility-timeout sweep puts
it back (the one case where a task may run twice: its result was already delivered, and
billing, done in the web tier, is not repeated).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

logger = logging.getLogger(__name__)


def _detached(channel: Any) -> bool:
    """Whether the channel's transport no longer has the connection it was opened from."""
    transport = getattr(channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except AttributeError:
            if not _detached(self.channel):
                raise
            logger.warning(
                "broker connection closed before %d unacknowledged task(s) could be restored; "
                "the visibility-timeout sweep restores them",
                len(self._delivered),
            )
            # They stay in Redis's unacked hash; this in-memory record of them is done with.
            self._delivered.clear()

    def ack(self, delivery_tag: str) -> None:
        try:
            super().ack(delivery_tag)
        except AttributeError:
            if not _detached(self.channel):
                raise
            self._settle_without_channel(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        except AttributeError:
            if not _detached(self.channel):
                raise
            if requeue:  # left in the unacked hash: the sweep puts it back
                virtual.QoS.ack(self, delivery_tag)
            else:
                self._settle_without_channel(delivery_tag)

    def _settle_without_channel(self, delivery_tag: str) -> None:
        """Remove a finished task from Redis's unacked indices with a client of our own."""
        try:
            client = redis.Redis(**self.channel.standby_address, socket_connect_timeout=2)
            with client:
                client.pipeline().zrem(self.unacked_index_key, delivery_tag).hdel(
                    self.unacked_key, delivery_tag
                ).execute()
        except (redis.RedisError, OSError):
            logger.warning(
                "a finished task could not be acknowledged after its broker connection "
                "closed; the visibility-timeout sweep puts it back"
            )
        finally:
            virtual.QoS.ack(self, delivery_tag)  # forget the delivery in memory either way


class Channel(kombu_redis.Channel):
    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Where this channel's Redis is, kept for after its connection has been detached.
        info = self.connection.client
        self.standby_address = {
            "host": info.hostname or "127.0.0.1",
            "port": info.port or self.connection.default_port,
            "db": int(str(info.virtual_host or "0").strip("/") or 0),
            "username": info.userid or None,
            "password": info.password or None,
        }


class Transport(kombu_redis.Transport):
    Channel = Channel
