"""The Redis result backend, without Celery's own result consumer in the web tier.

Celery's Redis backend subscribes every task a process sends to the result channel on a
connection of its own (``on_task_call``, ``add_pending_result``), to serve
``AsyncResult.get()``.  The web tier never calls ``get()``: it awaits results on its own
listener (``inference.runtime.dispatch``).  That second subscription only cost a connection
per process, and, with Redis down, Celery's reconnect loop (20 tries a second apart, in
whatever thread touched or garbage-collected an ``AsyncResult``) held health checks and
predictions for minutes.  So this backend keeps no pending results: storing and reading
results is Redis's as before; waiting for them is ``dispatch``'s.
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend


class ResultsOnlyRedisBackend(RedisBackend):
    """``RedisBackend`` that never subscribes: results are awaited by ``dispatch``."""

    def on_task_call(self, producer: Any, task_id: str) -> None:
        return None

    def add_pending_result(self, result: Any, weak: bool = False, start_drainer: bool = True):
        return result

    def remove_pending_result(self, result: Any) -> Any:
        return result


#: ``CELERY_RESULT_BACKEND``'s prefix: ``<this>+redis://...`` (Celery's ``module:Class+url``).
BACKEND_PATH = "inference.runtime.results:ResultsOnlyRedisBackend"
