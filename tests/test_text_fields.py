"""Text fields refuse NUL and other control characters with a 400 naming the field.

PostgreSQL cannot store NUL in a text column (a ``DataError``, a 500) and SQLite stores it as
given, so the refusal happens in the request (``inference.api.fields.TextField``) and reads
the same on both: over the test client on PostgreSQL, and over HTTP against a live daphne on
the embedded SQLite default (``make run``'s settings).  Base64 image fields are not text:
their decoding checks them.
"""

from __future__ import annotations

import base64
import io
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from rest_framework import serializers

from accounts.models import ApiKey, Customer
from billing.models import IdempotentRequest, UsageEvent
from inference.api.fields import Base64Field, TextField
from inference.products.vhs.models import Patient
from inference.runtime.product import products
from tests.servers import REPO_ROOT, platform_env, start_daphne

pytestmark = [pytest.mark.django_db, pytest.mark.schema_checked]

REFUSED = "uuid must not contain control characters"
# NUL, bell, escape, line feed, tab, DEL, a C1 control, a lone surrogate.
CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b", "\n", "\t", "\x7f", "\x85", "\ud800"]


def png() -> str:
    """A real PNG: without the refusal, the call would be measured (and stored)."""
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def vhs(client):
    raw = ApiKey.issue(Customer.objects.create(name="Text clinic"))[1]

    def post(body: dict, **headers: str):
        return client.post(
            "/vhs/v3/predict",
            body,
            content_type="application/json",
            headers={"x-api-key": raw, **headers},
        )

    return post


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_a_control_character_in_uuid_is_a_400_naming_the_field_on_postgresql(vhs, character):
    response = vhs({"image": png(), "uuid": f"rex{character}1"})

    assert response.status_code == 400
    assert response.json() == {"error": REFUSED}
    assert not Patient.objects.exists()
    assert not UsageEvent.objects.exists()


def test_a_uuid_of_printable_text_in_any_script_is_accepted(vhs):
    response = vhs({"image": png(), "uuid": "Rex (Labrador) Ærø 犬 🐕"})

    assert response.status_code == 200, response.json()


def test_a_control_character_in_the_idempotency_key_is_refused_not_a_500(vhs):
    response = vhs({"image": png(), "uuid": "rex"}, **{"Idempotency-Key": "try\x001"})

    assert response.status_code == 422
    assert response.json() == {"error": "Idempotency-Key must not contain control characters"}
    assert not IdempotentRequest.objects.exists()


def test_the_leukemia_envelope_words_the_refusal_as_an_invalid_request():
    from inference.products.leukemia.envelope import ENVELOPE

    class Named(serializers.Serializer):
        name = TextField()

    request = Named(data={"name": "a\x00b"})
    with pytest.raises(serializers.ValidationError) as refused:
        request.is_valid(raise_exception=True)
    body = ENVELOPE.response(refused.value, None).data

    assert (body["status_code"], body["error_code"]) == (400, "INVALID_REQUEST")
    assert body["error"] == "name must not contain control characters"


def _string_fields(serializer: serializers.Serializer, prefix: str = "") -> Iterator[tuple]:
    for name, field in serializer.fields.items():
        child = getattr(field, "child", None)
        for candidate, where in ((field, name), (child, f"{name}[]")):
            if isinstance(candidate, serializers.Serializer):
                yield from _string_fields(candidate, f"{prefix}{where}.")
            elif isinstance(candidate, serializers.CharField) and not candidate.read_only:
                yield f"{prefix}{where}", candidate


def test_every_string_a_product_reads_from_a_request_is_text_or_base64():
    """A product's request serializers (``*RequestSerializer``) read strings through the shared
    fields only: a new text field cannot forget the refusal."""
    import importlib

    unchecked = []
    for config in products():
        try:
            module = importlib.import_module(f"{config.name}.serializers")
        except ModuleNotFoundError:
            continue
        for name, value in vars(module).items():
            if not (
                isinstance(value, type)
                and issubclass(value, serializers.Serializer)
                and name.endswith("RequestSerializer")
            ):
                continue
            for where, field in _string_fields(value()):
                if not isinstance(field, TextField | Base64Field):
                    unchecked.append(f"{config.name}.{name}.{where}")

    assert unchecked == []


# --- the embedded default: SQLite, over HTTP ---------------------------------------------------

ISSUE_KEY = (
    "from accounts.models import ApiKey, Customer; "
    "print(ApiKey.issue(Customer.objects.create(name='SQLite clinic'))[1])"
)


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A live daphne on a fresh SQLite file (no Redis: Celery eager), and a key in it."""
    database = Path(tmp_path_factory.mktemp("sqlite-text")) / "db.sqlite3"
    env = platform_env(f"sqlite:///{database}", None)
    for args in (["migrate", "--no-input", "-v", "0"], ["shell", "-c", ISSUE_KEY]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    key = done.stdout.splitlines()[-1]
    server, base_url = start_daphne(env)
    yield base_url, key, database
    server.stop()


@pytest.mark.integration
def test_a_control_character_in_uuid_is_the_same_400_on_sqlite_over_http(sqlite_server):
    base_url, key, database = sqlite_server

    answers = [
        requests.post(
            f"{base_url}/vhs/v3/predict",
            json={"image": png(), "uuid": f"rex{character}"},
            headers={"x-api-key": key},
            timeout=60,
        )
        for character in ("\x00", "\x1f", "\u009b")
    ]

    assert [(a.status_code, a.json()) for a in answers] == [(400, {"error": REFUSED})] * 3
    with sqlite3.connect(database) as stored:
        assert stored.execute("SELECT COUNT(*) FROM inference_patient").fetchone() == (0,)
