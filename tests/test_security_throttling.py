"""Brute force is throttled (accounts.throttling, accounts.token_views): wrong ``x-api-key``
values per client IP on every product endpoint (health included), refused logins per IP and
per username; valid callers and callers sending no key are never counted."""

from __future__ import annotations

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import override_settings
from rest_framework.settings import api_settings

from accounts.models import ApiKey, Customer
from config.routing import websocket_urlpatterns

# Every answer here, 429s included, must be one the published schema documents.
pytestmark = [pytest.mark.django_db, pytest.mark.schema_checked]

N = 5
RATES = {
    **api_settings.DEFAULT_THROTTLE_RATES,
    "api_key_failures": f"{N}/min",
    "auth_token_failures_ip": f"{N}/min",
    "auth_token_failures_user": f"{N}/h",
}
REDIS_DB_6 = "redis://127.0.0.1:6379/6"


@pytest.fixture(autouse=True)
def _small_rates(settings):
    """Every test starts with no history and small rates (N failures)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def raw_key():
    _, raw = ApiKey.issue(Customer.objects.create(name="Valid Clinic"))
    return raw


def get(client, path, key=None, ip="10.1.1.1"):
    headers = {"x-api-key": key} if key is not None else {}
    if path == "/vhs/v3/report":
        return client.post(
            path, {}, content_type="application/json", headers=headers, REMOTE_ADDR=ip
        )
    return client.get(path, headers=headers, REMOTE_ADDR=ip)


def assert_throttled(response, body):
    assert response.status_code == 429
    assert response.json() == body
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/vhs/v3/health", 403),
        ("/vhs/v3/measurements?uuid=p1", 403),
        ("/vhs/v3/report", 403),
    ],
)
def test_wrong_keys_on_vhs_are_refused_then_throttled_per_ip_in_the_envelope(client, path, refusal):
    for attempt in range(N):
        response = get(client, path, key=f"mia_guess-{attempt}")
        assert response.status_code == refusal, attempt

    assert_throttled(get(client, path, key="mia_guess-next"), {"error": "Rate limit exceeded"})


def test_unknown_paths_look_at_no_key_so_they_count_none(client):
    for attempt in range(2 * N):
        assert get(client, "/vhs/v3/no-such-endpoint", key=f"mia_{attempt}").status_code == 404

    assert get(client, "/vhs/v3/health", key="mia_first-real-guess").status_code == 403


def test_a_throttled_ip_is_refused_before_any_key_is_checked(client, raw_key):
    """Otherwise the 429s would still tell a guesser which key is valid."""
    for attempt in range(N):
        get(client, "/vhs/v3/health", key=f"mia_guess-{attempt}")

    assert get(client, "/vhs/v3/health", key=raw_key).status_code == 429
    # Another address is not affected, with or without a valid key.
    assert get(client, "/vhs/v3/health", key=raw_key, ip="10.2.2.2").status_code == 200
    assert get(client, "/vhs/v3/health", key="mia_wrong", ip="10.2.2.2").status_code == 403


def test_a_valid_caller_polling_health_is_never_throttled(client, raw_key):
    for _ in range(3 * N):
        response = get(client, "/vhs/v3/health", key=raw_key)
        assert response.status_code == 200
        assert response.json()["status"] in {"healthy", "degraded"}


def test_no_key_is_no_guess_monitors_are_never_throttled(client):
    for _ in range(3 * N):
        assert get(client, "/vhs/v3/health").status_code == 403  # the seed: a key is required
        assert get(client, "/leukemia/health").status_code in {200, 503}
        assert get(client, "/health/").status_code in {200, 503}


def test_wrong_keys_on_leukemia_health_are_throttled_in_its_envelope(client, raw_key):
    for attempt in range(N):
        # The public API treats a wrong key as none, so it still answers; the guess counts.
        assert get(client, "/leukemia/health", key=f"mia_guess-{attempt}").status_code != 429

    response = get(client, "/leukemia/health", key="mia_guess-next")

    assert response.status_code == 429
    body = response.json()
    assert body["success"] is False
    assert body["status_code"] == 429
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(response["Retry-After"]) <= 60
    # The same address with its valid key lifted: counting is by address, as documented.
    assert get(client, "/leukemia/health", key=raw_key).status_code == 429
    assert get(client, "/leukemia/health", key=raw_key, ip="10.2.2.2").status_code != 429


def test_wrong_keys_on_leukemia_predict_count_too(client):
    for attempt in range(N):
        client.post(
            "/leukemia/predict",
            {},
            content_type="application/json",
            headers={"x-api-key": f"mia_guess-{attempt}"},
            REMOTE_ADDR="10.1.1.1",
        )

    response = client.post(
        "/leukemia/predict",
        {"image": "x"},
        content_type="application/json",
        headers={"x-api-key": "mia_guess-next"},
        REMOTE_ADDR="10.1.1.1",
    )

    assert response.status_code == 429
    assert response.json()["error_code"] == "RATE_LIMIT_EXCEEDED"


def test_the_failure_counts_live_in_the_shared_cache_redis_in_distributed_mode(client, settings):
    """With REDIS_URL set the cache is Redis, so every daphne process sees one count."""
    try:
        redis.Redis.from_url(REDIS_DB_6).flushdb()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    with override_settings(CACHES={"default": {**redis_cache, "LOCATION": REDIS_DB_6}}):
        for attempt in range(N):
            assert get(client, "/vhs/v3/health", key=f"mia_{attempt}").status_code == 403
        keys = redis.Redis.from_url(REDIS_DB_6).keys("*throttle_api_key_failures_10.1.1.1*")
        assert len(keys) == 1
        assert get(client, "/vhs/v3/health", key="mia_next").status_code == 429
    redis.Redis.from_url(REDIS_DB_6).flushdb()


def socket_close_code(key: str, ip: str) -> int | None:
    async def run():
        communicator = WebsocketCommunicator(
            URLRouter(websocket_urlpatterns),
            "/ws/vhs/v3/pop-session/no-such-session",
            headers=[(b"x-api-key", key.encode())],
        )
        communicator.scope["client"] = (ip, 50000)
        await communicator.connect()
        output = await communicator.receive_output(timeout=10)
        await communicator.disconnect()
        return output.get("code")

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)  # the consumer's lookups run in other threads
def test_wrong_keys_on_the_pop_sessions_socket_count_too(client):
    for attempt in range(N):
        assert socket_close_code(f"mia_guess-{attempt}", "10.1.1.1") == 4401

    assert socket_close_code("mia_guess-next", "10.1.1.1") == 4429
    assert socket_close_code("mia_guess-next", "10.2.2.2") == 4401
    # The HTTP endpoints share the count: the address is throttled there too.
    assert get(client, "/vhs/v3/health", key="mia_guess-next").status_code == 429


def test_the_schema_documents_the_429_on_every_product_operation(client):
    schema = client.get("/api/schema/?format=json").json()
    product_paths = [p for p in schema["paths"] if p.startswith(("/vhs/", "/cxr/", "/leukemia/"))]

    assert product_paths
    for path in product_paths:
        for method, operation in schema["paths"][path].items():
            assert "429" in operation["responses"], (method, path)
    assert "Retry-After" in schema["paths"]["/vhs/v3/health"]["get"]["responses"]["429"]["headers"]


# --- /auth/token/ ------------------------------------------------------------------------


@pytest.fixture
def radiologist(django_user_model):
    return django_user_model.objects.create_user("radiologist", password="correct horse battery")


def login(client, username, password, ip="10.1.1.1"):
    return client.post(
        "/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def test_refused_logins_are_throttled_per_ip(client, radiologist):
    for attempt in range(N):
        assert login(client, f"user-{attempt}", "wrong").status_code == 401

    response = login(client, "radiologist", "correct horse battery")

    assert response.status_code == 429
    assert "detail" in response.json()
    assert 1 <= int(response["Retry-After"]) <= 60
    assert login(client, "radiologist", "correct horse battery", ip="10.2.2.2").status_code == 200


def test_refused_logins_are_throttled_per_username_from_any_address(client, radiologist):
    for attempt in range(N):
        assert login(client, "Radiologist", "wrong", ip=f"10.3.3.{attempt}").status_code == 401

    response = login(client, "radiologist", "correct horse battery", ip="10.4.4.4")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    # Another user is not locked out.
    get_other = login(client, "someone-else", "wrong", ip="10.4.4.5")
    assert get_other.status_code == 401


def test_successful_logins_are_never_counted(client, radiologist):
    for _ in range(3 * N):
        assert login(client, "radiologist", "correct horse battery").status_code == 200


def test_refused_refresh_tokens_are_throttled_per_ip(client):
    for attempt in range(N):
        response = client.post(
            "/auth/token/refresh/",
            {"refresh": f"not-a-token-{attempt}"},
            content_type="application/json",
            REMOTE_ADDR="10.1.1.1",
        )
        assert response.status_code == 401

    response = client.post(
        "/auth/token/refresh/",
        {"refresh": "another"},
        content_type="application/json",
        REMOTE_ADDR="10.1.1.1",
    )
    assert response.status_code == 429


# --- the staff login pages share the counts (accounts.login_throttling) ---------------------


@pytest.fixture
def staffer(django_user_model):
    return django_user_model.objects.create_user(
        "staffer", password="correct horse battery", is_staff=True
    )


def page_login(client, path, username, password, ip="10.1.1.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_refused_page_logins_block_the_address(client, staffer, path):
    for attempt in range(N):
        assert page_login(client, path, f"guess-{attempt}", "wrong").status_code == 200

    refused = page_login(client, path, "staffer", "correct horse battery")

    assert refused.status_code == 200  # the form again: the right password is not checked
    assert "_auth_user_id" not in client.session
    elsewhere = page_login(client, path, "staffer", "correct horse battery", ip="10.2.2.2")
    assert elsewhere.status_code == 302


def test_a_username_guessed_on_the_admin_login_is_blocked_on_every_login(client, staffer):
    for attempt in range(N):
        page_login(client, "/admin/login/", "staffer", "wrong", ip=f"10.5.5.{attempt}")

    assert (
        page_login(client, "/login/", "staffer", "correct horse battery", "10.6.6.6").status_code
        == 200
    )
    assert "_auth_user_id" not in client.session
    assert login(client, "staffer", "correct horse battery", ip="10.6.6.7").status_code == 429


def test_a_refused_token_login_counts_once(client, radiologist):
    for _ in range(N - 1):
        assert login(client, "radiologist", "wrong").status_code == 401

    assert login(client, "radiologist", "correct horse battery").status_code == 200
