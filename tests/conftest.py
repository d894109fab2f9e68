"""Shared fixtures: real PostgreSQL and Redis, real daphne servers and Celery workers."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import redis
from django.db.migrations.loader import MigrationLoader

from tests import services
from tests.servers import (
    ServerProcess,
    free_port,
    platform_env,
    start_celery_worker,
    start_daphne,
)

# Responses the API tests receive are checked against the published schema (its docstring);
# the browser tests' fixtures (a logged-in Chromium page on a live platform).
pytest_plugins = ["tests.schema_check", "tests.browser"]

# Redis database reserved for the test suite; flushed at the start of each session.
TEST_REDIS_URL = "redis://127.0.0.1:6379/15"

_unavailable: dict[str, str] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    for service in (services.POSTGRES, services.REDIS):
        reason = services.ensure(service)
        if reason is None:
            continue
        if services.IN_CI:
            pytest.exit(f"CI needs {service.name}: {reason}", returncode=1)
        _unavailable[service.name] = reason


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Runs before pytest-django creates the test database: skip, with the fix, without one."""
    if "PostgreSQL" in _unavailable:
        pytest.skip(_unavailable["PostgreSQL"])


@pytest.fixture
def poppler() -> None:
    """For tests that read a PDF back with poppler's tools: skipped on a machine without
    them, failed in CI."""
    services.require_installed(services.POPPLER)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The suite's own Redis database, empty at the start of the session."""
    if "Redis" in _unavailable:
        pytest.skip(_unavailable["Redis"])
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    client.close()
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def test_database_url(django_db_setup: None) -> str:
    """A URL for subprocesses to reach the test database pytest-django created."""
    from django.db import connection

    settings = connection.settings_dict
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


@dataclass
class PlatformStack:
    """A running distributed platform: daphne + one Celery worker on Redis."""

    base_url: str
    daphne: ServerProcess
    worker: ServerProcess
    worker_name: str
    redis_url: str
    # The folders the servers may read chest X-ray studies from and write outputs to.
    cxr_input: Path
    cxr_output: Path
    # The worker's Prometheus exporter (WORKER_METRICS_PORT).
    worker_metrics_url: str = ""


@pytest.fixture(scope="session")
def platform_stack(
    test_database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlatformStack]:
    files = tmp_path_factory.mktemp("platform-files")
    cxr_input, cxr_output = files / "cxr-input", files / "cxr-output"
    cxr_input.mkdir()
    cxr_output.mkdir()
    metrics_port = free_port()
    env = platform_env(
        test_database_url,
        redis_url,
        CXR_INPUT_ROOTS=str(cxr_input),
        CXR_OUTPUT_ROOTS=str(cxr_output),
        WORKER_METRICS_PORT=str(metrics_port),
    )
    worker, worker_name = start_celery_worker(env, redis_url)
    try:
        daphne, base_url = start_daphne(env)
    except Exception:
        worker.stop()
        raise
    yield PlatformStack(
        base_url,
        daphne,
        worker,
        worker_name,
        redis_url,
        cxr_input,
        cxr_output,
        f"http://127.0.0.1:{metrics_port}/metrics",
    )
    daphne.stop()
    worker.stop()


@functools.cache
def seeding_migrations() -> list[ModuleType]:
    """Every migration module that exposes ``seed(apps, schema_editor)``, in migration order.

    Migrations that write reference rows (tiers, each product's prices) expose that step as
    ``seed``, written to run on the current models too, so the suite can put the rows back
    without naming any app or product."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan: dict[tuple[str, str], None] = {}
    for leaf in loader.graph.leaf_nodes():
        plan.update(dict.fromkeys(loader.graph.forwards_plan(leaf)))
    modules = [sys.modules[type(loader.graph.nodes[key]).__module__] for key in plan]
    return [module for module in modules if callable(getattr(module, "seed", None))]


@pytest.fixture(autouse=True)
def _seed_data_after_flushes(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the database, taking the migration-seeded rows (tiers and
    prices) with them; put them back, with the migrations' own code, before each such test."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    for module in seeding_migrations():
        module.seed(apps, None)
