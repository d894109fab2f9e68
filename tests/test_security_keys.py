"""API keys: stored and looked up only as their SHA-256, compared in constant time.

The lookup is an index query on the digest, so how long it takes says nothing about how much
of a guess matched; the match is then confirmed with ``hmac.compare_digest`` (watched here by
wrapping the real function, which still decides)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import authentication
from accounts.authentication import find_api_key
from accounts.models import ApiKey, Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    return ApiKey.issue(Customer.objects.create(name="Keyed Clinic"))


@pytest.fixture
def comparisons(monkeypatch):
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def watched(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authentication.hmac, "compare_digest", watched)
    return calls


def test_the_key_is_looked_up_by_its_sha256_and_never_sent_to_the_database(issued):
    api_key, raw = issued
    digest = hashlib.sha256(raw.encode()).hexdigest()

    with CaptureQueriesContext(connection) as queries:
        found = find_api_key(raw)

    assert found == api_key
    sql = " ".join(q["sql"] for q in queries)
    assert digest in sql
    assert raw not in sql
    assert raw[len(api_key.prefix) :] not in sql  # not even the secret part


def test_the_stored_row_holds_the_digest_and_the_display_prefix_only(issued):
    api_key, raw = issued
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()

    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert all(raw not in str(value) for value in row.values())


def test_a_match_is_confirmed_with_compare_digest(issued, comparisons):
    api_key, raw = issued

    assert find_api_key(raw) == api_key
    assert comparisons == [(api_key.key_hash, hashlib.sha256(raw.encode()).hexdigest())]


def test_a_near_miss_is_refused_by_the_digest_lookup_without_a_comparison(issued, comparisons):
    api_key, raw = issued
    last = "A" if raw[-1] != "A" else "B"

    assert find_api_key(raw[:-1] + last) is None
    assert find_api_key(api_key.prefix) is None  # the shown prefix is no key
    assert comparisons == []


def test_over_long_values_are_refused_before_hashing(comparisons, monkeypatch):
    hashed: list[str] = []
    monkeypatch.setattr(authentication.keys, "hash_key", lambda raw: hashed.append(raw) or "")

    assert find_api_key("x" * (authentication.MAX_KEY_LENGTH + 1)) is None
    assert hashed == []
