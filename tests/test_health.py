"""``GET /health/``: readiness of the database, Redis, workers and product models."""

import pytest
import requests

from inference.runtime import registry
from tests.health_access import staff_headers, staff_user
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
def staff_client(client):
    """The Django test client logged in as a staff user: it sees the details."""
    client.force_login(staff_user())
    return client


@pytest.fixture
def fake_product():
    product = registry.register(_FakeProduct("phantom-product", loaded=True))
    yield product
    registry.unregister(product.name)


def test_health_is_ready_in_eager_mode_with_postgres(staff_client):
    response = staff_client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["redis"] == {"ok": True, "configured": False}
    assert body["checks"]["broker"] == {"ok": True, "configured": False}
    assert body["checks"]["workers"]["mode"] == "eager"


def test_deep_health_runs_a_task_in_eager_mode(staff_client):
    body = staff_client.get("/health/?deep=1").json()

    assert body["checks"]["task_round_trip"]["ok"] is True
    assert body["checks"]["task_round_trip"]["worker"]["pid"] > 0


def test_health_reports_each_products_models(staff_client, fake_product):
    body = staff_client.get("/health/").json()

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
        response = requests.get(f"{base_url}/health/", timeout=30, headers=staff_headers())
    finally:
        daphne.stop()

    # With the database down no staff user can be looked up: the public answer names it.
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert "checks" not in response.json()


def test_public_health_says_ready_and_what_fails_but_names_no_host_or_path(client, fake_product):
    fake_product.loaded = False

    response = client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"status", "failing", "timestamp"}
    assert (body["status"], body["failing"]) == ("not_ready", ["models:phantom-product"])
    assert "web-process" not in response.content.decode()
    assert "/models" not in response.content.decode()


def test_a_user_who_is_not_staff_sees_only_the_public_answer(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("clinic-user"))

    assert set(client.get("/health/").json()) == {"status", "failing", "timestamp"}


def test_staff_see_workers_products_and_the_model_store(staff_client):
    body = staff_client.get("/health/").json()

    assert {"checks", "products", "model_store"} <= set(body)
    assert body["checks"]["workers"]["answering"] == ["web-process (eager)"]


def test_a_staff_jwt_sees_the_details_and_a_bad_one_only_the_public_answer(client, settings):
    good = staff_headers(secret=settings.SECRET_KEY)["Authorization"]

    with_token = client.get("/health/", headers={"Authorization": good})
    with_junk = client.get("/health/", headers={"Authorization": "Bearer not-a-token"})

    assert "checks" in with_token.json()
    assert with_junk.status_code == 200
    assert set(with_junk.json()) == {"status", "failing", "timestamp"}
