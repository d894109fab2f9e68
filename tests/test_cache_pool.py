"""Django's cache objects share one Redis pool per process (config.cache_pool).

Under ASGI Django builds a cache object per request; with a pool each, every request opened
a connection of its own (the soak's descriptor drift).  Fifty cache objects, as fifty
requests would build them, must reuse the connections of one pool."""

from __future__ import annotations

import redis
from django.core.cache.backends.redis import RedisCache

SHARED = {"pool_class": "config.cache_pool.SharedConnectionPool"}


def connections(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return len(client.client_list()) - 1  # not this one
    finally:
        client.close()


def test_fifty_cache_objects_open_one_connection_not_fifty(redis_url):
    before = connections(redis_url)
    caches = [RedisCache(redis_url, {"OPTIONS": SHARED}) for _ in range(50)]
    for index, cache in enumerate(caches):
        cache.set(f"cache-pool-test-{index}", index, 30)

    assert connections(redis_url) - before <= 1
    assert [cache.get(f"cache-pool-test-{i}") for i, cache in enumerate(caches)] == list(range(50))


def test_without_the_shared_pool_each_cache_object_opens_its_own(redis_url):
    """The control: Django's default pool class, the defect the shared pool removes."""
    before = connections(redis_url)
    caches = [RedisCache(redis_url, {}) for _ in range(10)]
    for cache in caches:
        cache.get("cache-pool-test-none")

    assert connections(redis_url) - before >= 10
    for cache in caches:
        cache._cache._pools[0].disconnect()
