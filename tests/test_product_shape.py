"""One shape for every product: a product is its package plus one line that lists it.

A throwaway fourth product (``tests/toy_product``) is installed for these tests only; the
platform then serves it, reports it in health, bills it and shows it in admin without any
change outside its package.  And the platform's shared code names no product.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.runtime import registry
from inference.runtime.product import product, products
from tests.health_access import staff_user
from tests.tiny_predictor import make_store

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parent.parent
SHARED_CODE = ("inference/runtime", "billing", "accounts", "config")
# The one place a product is named outside its own package.
LISTING_LINE = re.compile(r"^PRODUCT_APPS = \[.*\]$")


def _named(text: str, names: set[str]) -> list[str]:
    return [name for name in names if re.search(rf"(?i){re.escape(name)}", text)]


def test_no_product_is_named_in_the_shared_code_but_in_the_line_that_lists_them():
    names = set()
    for config in products():
        names |= {config.product, config.label}
    names |= {"leukemia", "vhs", "vlas", "chest", "x-ray", "cxr"}  # the seeds' products too
    found = []
    for folder in SHARED_CODE:
        for path in sorted((REPO / folder).rglob("*")):
            # Migrations are frozen history: what they once created keeps its name.
            if not path.is_file() or "migrations" in path.parts or path.suffix == ".pyc":
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if LISTING_LINE.match(line):
                    continue
                found += [f"{path.relative_to(REPO)}:{number}: {n}" for n in _named(line, names)]
    assert found == []


def test_the_product_listing_line_exists_and_lists_the_declared_products(settings):
    from config import settings as platform_settings

    lines = Path(platform_settings.__file__).read_text().splitlines()
    assert sum(bool(LISTING_LINE.match(line)) for line in lines) == 1
    assert {c.name for c in products()} >= set(platform_settings.PRODUCT_APPS)


# --- a fourth product ------------------------------------------------------------------------


@pytest.fixture
def toy(settings, tmp_path):
    """The toy product installed, with a model store holding its one weight file."""
    for config in products():
        (tmp_path / config.product).symlink_to(settings.MODEL_STORE / config.product)
    make_store(tmp_path, "toy")
    settings.MODEL_STORE = tmp_path
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.toy_product"]
    settings.ROOT_URLCONF = "tests.toy_product.root_urls"
    yield product("toy")
    registry.runtime("toy").unload()


@pytest.fixture
def toy_key(toy):
    return ApiKey.issue(Customer.objects.create(name="Toy shop"))[1]


def predict(client, key, body):
    return client.post(
        "/toy/v1/predict", body, content_type="application/json", headers={"x-api-key": key}
    )


def test_a_fourth_product_is_served_under_its_prefix_and_billed_by_its_own_rule(client, toy_key):
    response = predict(client, toy_key, {"x": [1.5, 2.0]})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["y"] == [1.5, 2.0]  # the identity model, run by the platform's runtime
    assert body["billing"]["billable"] is True
    assert body["billing"]["reason"] == "positive"
    assert body["billing"]["monthly_usage"] == 1
    event = UsageEvent.objects.get()
    assert (event.product, event.billable, event.reason) == ("toy", True, "positive")


def test_its_results_of_no_value_are_free_under_its_rule(client, toy_key):
    body = predict(client, toy_key, {"x": [-1.0, 0.5]}).json()

    assert body["billing"] == {
        "billable": False,
        "reason": "not_positive",
        "monthly_usage": 0,
        "tier": "paygo",
    }


def test_its_errors_leave_in_its_own_envelope(client, toy_key):
    unauthenticated = predict(client, "nope", {"x": [1.0, 1.0]})
    invalid = predict(client, toy_key, {"x": [1.0]})

    assert unauthenticated.status_code == 403
    assert unauthenticated.json() == {"problem": "UNAUTHENTICATED", "detail": "who are you?"}
    assert invalid.status_code == 400
    assert invalid.json()["problem"] == "INVALID_REQUEST"


def test_its_models_are_reported_in_platform_health(client, toy):
    client.force_login(staff_user())  # the details are for staff (issue 20, item 11)
    body = client.get("/health/").json()

    toy_status = body["products"]["toy"]
    assert toy_status["loaded"] is True
    worker = next(iter(toy_status["workers"].values()))
    assert worker["groups"]["linear"]["loaded"] is True
    assert worker["groups"]["linear"]["files"]["linear"]["filename"] == "linear.pt"


def test_its_usage_is_shown_to_staff_in_admin(admin_client, client, toy_key):
    predict(client, toy_key, {"x": [3.0, 1.0]})

    page = admin_client.get("/admin/billing/usageevent/", {"product": "toy"})

    assert page.status_code == 200
    assert "/toy/v1/predict" in page.content.decode()


def test_its_section_is_in_the_api_schema(client, toy):
    schema = client.get("/api/schema/", headers={"accept": "application/json"}).json()

    assert "/toy/v1/predict" in schema["paths"]
    assert {"name": "toy", "description": toy.openapi_description} in schema["tags"]


def test_a_worker_imports_no_training_phantom_or_evaluation_code(tmp_path):
    """What serves is only what serves: training and phantoms stay out of a worker."""
    import subprocess
    import sys

    script = (
        "import django, sys; django.setup();"
        "from inference import tasks; from inference.runtime import registry;"
        "assert all(registry.load_all().values()), registry.statuses();"
        "print([m for m in sys.modules if m.startswith('inference') and "
        "(m.endswith(('.training', '.evaluation')) or '.phantoms' in m)])"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "worker-imports-test",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
