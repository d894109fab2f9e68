"""One Redis connection pool per process for Django's cache, however many cache objects.

Django's cache handler keeps its cache objects in an ``asgiref`` ``Local`` that is not
thread-critical, so under ASGI every request (its own context) builds a new ``RedisCache``,
and each ``RedisCache`` builds a connection pool of its own.  Every request that touched the
cache (the per-IP and failed-key throttles do, on every call) therefore opened a fresh Redis
connection that stayed open until its pool was garbage-collected: the soak measured daphne
holding 120-190 such connections and its descriptor count drifting from 134 to 257 in ten
minutes.  This pool class hands every cache object of the process the same pool for the same
URL and options, so connections are reused and bounded by the requests in flight.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_pools: dict[tuple[str, tuple[tuple[str, Any], ...]], redis.ConnectionPool] = {}
_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    """``CACHES[...]["OPTIONS"]["pool_class"]``: ``from_url`` returns the process's pool."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:
        key = (url, tuple(sorted(kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                # redis-py resets a pool's connections in a forked child by itself.
                pool = _pools[key] = super().from_url(url, **kwargs)
            return pool
