"""The hostile corpus (``tests/corpus``) against a live daphne and worker (issue 20, item 8).

Every case must get its documented 4xx, in its product's envelope, with the ``X-Request-ID``
it sent echoed back and one request line in the server's log under that id; every response
must be one the OpenAPI schema documents (``tests.schema_check``); and after the whole
corpus the platform still answers ready, with no error logged for any of its requests.  The
corpus goes through real daphne on purpose: Twisted, under daphne, read form bodies before
Django did (``config.daphne_requests``), which no in-process client can show.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import requests
from django.conf import global_settings
from django.contrib.auth import get_user_model

from accounts.models import ApiKey, Customer, Membership
from tests.corpus import ENVELOPES, Case, Context
from tests.corpus.cases import (
    AUTH_POSTS,
    BODILESS_POSTS,
    CASES,
    CXR_STUDIES,
    GETS,
    JSON_POSTS,
    PLATFORM_GETS,
    UPLOAD_POSTS,
)
from tests.corpus.payloads import dicom_valid
from tests.schema_check import published_schema, schema_check

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "corpus-pass-1"


class _Answer:
    """A ``requests`` response as ``schema_check`` reads a Django one."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self._headers = response.headers

    def get(self, name: str, default: Any = None) -> Any:
        return self._headers.get(name, default)


def _stack_files(stack: Any, outside: Any) -> None:
    """The studies and links the chest X-ray cases name, inside and around the allowed
    folders."""
    root = stack.cxr_input
    for name, build in CXR_STUDIES.items():
        (root / name).write_bytes(build())
    (root / "valid.dcm").write_bytes(dicom_valid())
    (root / "study.txt").write_bytes(dicom_valid())
    outside.mkdir(exist_ok=True)
    (outside / "x.dcm").write_bytes(dicom_valid())
    for link, target in (
        (root / "escape.dcm", outside / "x.dcm"),
        (root / "out", outside),
        (root / "loop.dcm", root / "loop.dcm"),
        (stack.cxr_output / "out", outside),
    ):
        if not link.is_symlink():
            os.symlink(target, link)


@pytest.fixture
def context(platform_stack, settings, tmp_path_factory) -> Context:
    from inference.products.vhs.models import Measurement, Patient

    customer = Customer.objects.create(name="Hostile corpus clinic")
    key = ApiKey.issue(customer)[1]
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = get_user_model().objects.create_user("corpus-radiologist", password=PASSWORD)
    Membership.objects.create(user=user, customer=customer)
    token = requests.post(
        f"{platform_stack.base_url}/auth/token/",
        json={"username": "corpus-radiologist", "password": PASSWORD},
        timeout=30,
    ).json()["access"]
    patient = Patient.objects.create(customer=customer, uuid="corpus-patient")
    measurement = Measurement.objects.create(
        patient=patient, vhs=10.0, vlas=2.0, result_code=1, model_version="corpus"
    )
    outside = tmp_path_factory.mktemp("outside-the-roots")
    _stack_files(platform_stack, outside)
    return Context(
        key, token, platform_stack.cxr_input, platform_stack.cxr_output, outside, measurement.id
    )


def _send(base_url: str, case: Case, context: Context, request_id: str) -> requests.Response:
    headers = {"X-Request-ID": request_id, **case.headers}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    if case.auth == "key":
        headers["x-api-key"] = context.api_key
    elif case.auth == "jwt":
        headers["Authorization"] = f"Bearer {context.token}"
    elif case.auth != "none":
        headers["x-api-key"] = case.auth
    body = case.body_bytes(context) if case.method not in {"GET", "DELETE"} else None
    request = requests.Request(case.method, base_url + case.path, headers=headers, data=body)
    prepared = request.prepare()
    if case.content_type is None:
        prepared.headers.pop("Content-Type", None)
    with requests.Session() as session:
        return session.send(prepared, timeout=60)


def _departures(case: Case, response: requests.Response, request_id: str) -> list[str]:
    """How ``response`` departs from what ``case`` documents (empty: it does not)."""
    found = []
    if response.status_code != case.status:
        found.append(f"status {response.status_code}, documented {case.status}")
    if response.headers.get("X-Request-ID") != request_id:
        found.append(f"X-Request-ID {response.headers.get('X-Request-ID')!r}")
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        found.append(f"Content-Type {response.headers.get('Content-Type')!r}")
        return found
    try:
        body = response.json()
    except json.JSONDecodeError:
        return [*found, "the body is not JSON"]
    for key, expected in ENVELOPES[case.envelope].items():
        value = body.get(key, KeyError) if isinstance(body, dict) else KeyError
        ok = isinstance(value, expected) if isinstance(expected, type) else value == expected
        if not ok:
            found.append(f"envelope {case.envelope}: {key}={str(value)[:60]!r}")
    if case.envelope == "drf" and not isinstance(body, dict):
        found.append("DRF's document is not an object")
    text = json.dumps(body)
    if case.message is not None and case.message not in text:
        found.append(f"message {case.message!r} not in {text[:200]}")
    path = case.path.split("?", 1)[0]
    try:
        schema_check().check(case.method, path, _Answer(response))
    except AssertionError as exc:
        found.append(f"schema: {str(exc)[:300]}")
    return found


def test_every_hostile_case_gets_its_documented_4xx_and_the_server_stays_ready(
    platform_stack, context
):
    failures = []
    for index, case in enumerate(CASES):
        request_id = f"corpus-{index}"
        response = _send(platform_stack.base_url, case, context, request_id)
        found = _departures(case, response, request_id)
        if found:
            failures.append(f"{case.id}: {'; '.join(found)}: {response.content[:160]!r}")

    log = platform_stack.daphne.log_text()
    # The stack is the session's: other tests' lines are in its log too.
    corpus_lines = [line for line in log.splitlines() if '"request_id": "corpus-' in line]
    logged = {
        json.loads(line).get("request_id")
        for line in log.splitlines()
        if '"platform.request"' in line and line.startswith("{")
    }
    unlogged = [case.id for i, case in enumerate(CASES) if f"corpus-{i}" not in logged]
    health = requests.get(f"{platform_stack.base_url}/health/", timeout=30)

    first_error = next((line for line in corpus_lines if "Traceback" in line), "")
    assert not failures, (
        f"{len(failures)} of {len(CASES)} cases:\n" + "\n".join(failures) + "\n" + first_error
    )
    assert not unlogged, f"no request line logged for: {unlogged}"
    errors = [line for line in corpus_lines if '"level": "ERROR"' in line]
    assert not errors, errors[:3]
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ready"


def test_the_corpus_covers_every_endpoint_the_schema_documents():
    """A new endpoint gets hostile cases too: every documented operation is in the corpus."""
    documented = {
        (method.upper(), template)
        for template, item in published_schema()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    endpoints = {
        *(("POST", path) for path in [*JSON_POSTS, *UPLOAD_POSTS, *BODILESS_POSTS, *AUTH_POSTS]),
        *(("GET", path) for path in [*GETS, *PLATFORM_GETS]),
    }
    attacked = {(case.method, case.path.split("?")[0]) for case in CASES}
    endpoints_attacked = {path for _, path in attacked}

    assert documented <= endpoints, documented - endpoints
    assert {path for _, path in endpoints} - set(PLATFORM_GETS) <= endpoints_attacked
    assert len(CASES) >= 190
