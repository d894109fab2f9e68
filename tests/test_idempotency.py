"""``Idempotency-Key``: a retried request returns the stored answer and is billed once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey, Customer
from billing.models import IdempotentRequest, UsageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.billing_urls")]


@pytest.fixture
def raw_key():
    return ApiKey.issue(Customer.objects.create(name="Retrying clinic"))[1]


def post(client, raw_key, body, idempotency_key=None):
    headers = {"x-api-key": raw_key}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post("/metered/predict", body, content_type="application/json", headers=headers)


def test_a_retry_with_the_same_key_and_body_returns_the_first_answer_unbilled(client, raw_key):
    body = {"result_code": 2, "uuid": "rex"}

    first = post(client, raw_key, body, "attempt-7f3a")
    retry = post(client, raw_key, body, "attempt-7f3a")

    assert retry.status_code == first.status_code == 200
    assert retry.content == first.content  # the same document, keys in the same order
    assert UsageEvent.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused(client, raw_key):
    post(client, raw_key, {"result_code": 2}, "key-1")

    response = post(client, raw_key, {"result_code": 3}, "key-1")

    assert response.status_code == 422
    assert "different request" in response.json()["error"]
    assert UsageEvent.objects.count() == 1


def test_without_a_key_each_request_is_a_new_call(client, raw_key):
    post(client, raw_key, {"result_code": 2})
    post(client, raw_key, {"result_code": 2})

    assert UsageEvent.objects.filter(billable=True).count() == 2


def test_keys_belong_to_one_customer(client, raw_key):
    other_key = ApiKey.issue(Customer.objects.create(name="Other"))[1]
    post(client, raw_key, {"result_code": 2}, "shared-name")

    response = post(client, other_key, {"result_code": 2}, "shared-name")

    assert response.status_code == 200
    assert UsageEvent.objects.count() == 2


def test_a_retry_while_the_first_is_still_running_is_told_to_wait(client, raw_key):
    post(client, raw_key, {"result_code": 2}, "in-flight")
    IdempotentRequest.objects.update(status_code=None, response_body="")  # as if unfinished

    response = post(client, raw_key, {"result_code": 2}, "in-flight")

    assert response.status_code == 409
    assert "still being processed" in response.json()["error"]


def test_a_key_older_than_24h_starts_afresh(client, raw_key):
    post(client, raw_key, {"result_code": 2, "uuid": "a"}, "old-key")
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = post(client, raw_key, {"result_code": 2, "uuid": "b"}, "old-key")

    assert response.status_code == 200
    assert UsageEvent.objects.filter(billable=True).count() == 2


def test_an_overlong_key_is_refused(client, raw_key):
    response = post(client, raw_key, {"result_code": 2}, "k" * 300)

    assert response.status_code == 422
