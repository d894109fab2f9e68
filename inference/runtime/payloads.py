"""Image bytes travel beside the task, never inside it.

A Celery message is JSON: an image in a task's arguments would be base64 text (4/3 of the
image), copied into kombu's envelope, base64-encoded again by the Redis transport, held in
the broker's list, and decoded twice more on the worker; a rendered image in a result is
stored *and* published on the result channel, whose subscriber Redis disconnects once its
output buffer passes 32 MB.  With ten 10 MB images a request, those copies are most of a
process's memory.

So the bytes are stored once, under a random key that expires with the request's deadline,
and only the key travels:

* the web tier ``put``\\s each checked image's bytes and sends ``{"image_ref": key}``; the
  worker ``read``\\s them right before decoding and leaves them there, so that a task handed
  out again (its worker was killed, or outlived the broker's visibility timeout) still finds
  its image; the request ``discard``\\s them when it ends;
* the worker stows every large value of a task's result (a rendered image) the same way
  (``stow_large``) and the web tier ``restore``\\s it after the result arrives;
* whatever nobody took (a request that failed, a task that expired) is ``discard``\\ed when the
  request ends, and expires on its own otherwise.

Distributed (``REDIS_URL``), the store is Redis, where every worker can reach it.  Eager
(``make run``, no broker) the task runs in this process and the store is a dictionary here.
Keys are 128-bit random tokens, so a key in a log line names nothing anyone else can guess;
task arguments are redacted from Celery's log lines all the same (``config.log_redaction``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

import redis
from django.conf import settings

from inference.runtime.errors import BackendUnavailable

KEY_PREFIX = "payload:"
#: Result values at least this long are stowed instead of published (a rendered image).
LARGE_VALUE_BYTES = 64 * 1024
#: How a stowed result value is marked in the result: ``{STOWED: key, "type": "str"|"bytes"}``.
STOWED = "stowed_payload"


class PayloadMissing(BackendUnavailable):
    """An image's bytes were not in the payload store (expired, or lost with a Redis that
    restarted empty while the task was on its way): the platform's fault, a 503 to retry."""

    code = "PAYLOAD_MISSING"


class _Store(Protocol):
    def put_many(self, values: list[bytes], ttl_s: float) -> list[str]: ...

    def take(self, key: str) -> bytes | None: ...

    def read(self, key: str) -> bytes | None: ...

    def discard(self, keys: list[str]) -> None: ...


class _RedisStore:
    """Payloads in Redis, where the web tier and every worker reach them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)

    def put_many(self, values: list[bytes], ttl_s: float) -> list[str]:
        keys = [_new_key() for _ in values]
        ttl_ms = max(1000, int(ttl_s * 1000))
        with self.client.pipeline(transaction=False) as pipe:
            for key, value in zip(keys, values, strict=True):
                pipe.set(key, value, px=ttl_ms)
            pipe.execute()
        return keys

    def take(self, key: str) -> bytes | None:
        return self.client.getdel(key)

    def read(self, key: str) -> bytes | None:
        return self.client.get(key)

    def discard(self, keys: list[str]) -> None:
        if keys:
            self.client.delete(*keys)


class _LocalStore:
    """Payloads in this process (eager mode: the task runs where the request arrived)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, bytes]] = {}
        self.lock = threading.Lock()

    def put_many(self, values: list[bytes], ttl_s: float) -> list[str]:
        now = time.monotonic()
        keys = [_new_key() for _ in values]
        with self.lock:
            for key, (expires, _) in list(self.values.items()):
                if expires <= now:
                    del self.values[key]
            for key, value in zip(keys, values, strict=True):
                self.values[key] = (now + ttl_s, value)
        return keys

    def take(self, key: str) -> bytes | None:
        with self.lock:
            entry = self.values.pop(key, None)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def read(self, key: str) -> bytes | None:
        with self.lock:
            entry = self.values.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def discard(self, keys: list[str]) -> None:
        with self.lock:
            for key in keys:
                self.values.pop(key, None)


_local = _LocalStore()
_redis: _RedisStore | None = None
_redis_lock = threading.Lock()


def _store() -> _Store:
    global _redis
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return _local
    store = _redis
    if store is None or store.url != settings.REDIS_URL:
        with _redis_lock:
            store = _redis
            if store is None or store.url != settings.REDIS_URL:
                store = _redis = _RedisStore(settings.REDIS_URL)
    return store


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_hex(16)


def put_many(values: list[bytes], ttl_s: float) -> list[str]:
    """Store each value once (one round trip); its key expires after ``ttl_s`` seconds."""
    return _store().put_many(values, ttl_s)


def _checked(key: Any) -> str:
    """``key`` if it names a payload; a task's argument comes from the broker, unchecked."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        raise PayloadMissing("not a payload key")
    return key


def take(key: str) -> bytes:
    """The value under ``key``, removed from the store: each payload is read exactly once."""
    value = _store().take(_checked(key))
    if value is None:
        raise PayloadMissing("the image's bytes expired or were already taken")
    return value


def read(key: str) -> bytes:
    """The value under ``key``, left in the store: a task's image, which a redelivery of the
    same task must find again; the request that stored it discards it when it ends."""
    value = _store().read(_checked(key))
    if value is None:
        raise PayloadMissing("the image's bytes expired or were discarded")
    return value


def discard(keys: Iterable[str]) -> None:
    """Forget payloads nobody will take (their request ended); taken ones are ignored."""
    _store().discard([key for key in keys if isinstance(key, str)])


def stow_large(result: Any, ttl_s: float) -> Any:
    """``result`` with each large top-level string or bytes value replaced by its key.

    Runs on the worker: a rendered image then goes through the store, not through the result
    backend's key and channel.
    """
    if not isinstance(result, dict):
        return result
    large = {
        name: value
        for name, value in result.items()
        if isinstance(value, str | bytes) and len(value) >= LARGE_VALUE_BYTES
    }
    if not large:
        return result
    raw = [value.encode() if isinstance(value, str) else value for value in large.values()]
    keys = put_many(raw, ttl_s)
    stowed = dict(result)
    for (name, value), key in zip(large.items(), keys, strict=True):
        stowed[name] = {STOWED: key, "type": "str" if isinstance(value, str) else "bytes"}
    return stowed


def restore(result: Any) -> Any:
    """``result`` with every value ``stow_large`` replaced taken back from the store."""
    if not isinstance(result, dict):
        return result
    restored = dict(result)
    for name, value in result.items():
        if isinstance(value, dict) and STOWED in value:
            raw = take(value[STOWED])
            restored[name] = raw.decode() if value.get("type") == "str" else raw
    return restored


def stowed_keys(result: Any) -> list[str]:
    """The keys of the values ``stow_large`` stowed in ``result``."""
    if not isinstance(result, dict):
        return []
    return [v[STOWED] for v in result.values() if isinstance(v, dict) and STOWED in v]
