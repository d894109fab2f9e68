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
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

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


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
