"""``GET /health/``: readiness of the database, Redis, workers and product models."""

import pytest
import requests

from inference.runtime import registry
from tests.servers import free_port, platform_env, start_daphne

pytestmark = pytest.mark.django_db


class _FakeProduct:
    """A registered product whose status the test controls."""

    def __init__(self, name: str, loaded: bool) -> None:
        self.name = name
        self.loaded = loaded

    def load(self) -> bool:
        return self.loaded

    def status(self) -> dict:
        return {"loaded": self.loaded, "device": "cpu", "reason": None if self.loaded else "x"}


@pytest.fixture
def fake_product():
    product = registry.register(_FakeProduct("phantom-product", loaded=True))
    yield product
    registry.unregister(product.name)


def test_health_is_ready_in_eager_mode_with_postgres(client):
    response = client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["redis"] == {"ok": True, "configured": False}
    assert body["checks"]["workers"]["mode"] == "eager"


def test_deep_health_runs_a_task_in_eager_mode(client):
    body = client.get("/health/?deep=1").json()

    assert body["checks"]["task_round_trip"]["ok"] is True
    assert body["checks"]["task_round_trip"]["worker"]["pid"] > 0


def test_health_reports_each_products_models(client, fake_product):
    body = client.get("/health/").json()

    product = body["products"]["phantom-product"]
    assert product["loaded"] is True
    assert product["workers"]["web-process (eager)"]["device"] == "cpu"


def test_health_is_503_naming_a_product_whose_models_are_not_loaded(client, fake_product):
    fake_product.loaded = False

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["failing"] == ["models:phantom-product"]


@pytest.mark.integration
def test_health_is_503_naming_the_database_when_it_is_unreachable(redis_url):
    closed_port = free_port()
    env = platform_env(f"postgres://postgres@127.0.0.1:{closed_port}/nothing", None)
    daphne, base_url = start_daphne(env)
    try:
        response = requests.get(f"{base_url}/health/", timeout=30)
    finally:
        daphne.stop()

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["error"]
