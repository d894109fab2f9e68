"""One structured log line per request, and the X-Request-ID that ties lines together."""

import json
import logging

import pytest
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from config.request_log import RequestIdFilter, choose_request_id

pytestmark = pytest.mark.django_db


def request_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "platform.request"]


def test_a_callers_request_id_is_kept_and_echoed(client, caplog):
    caplog.set_level(logging.INFO, logger="platform.request")

    response = client.get("/health/", headers={"X-Request-ID": "clinic-7.run:3"})

    assert response["X-Request-ID"] == "clinic-7.run:3"
    (record,) = request_records(caplog)
    assert record.request_id == "clinic-7.run:3"


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_fresh_one(client):
    plain = client.get("/health/")
    hostile = client.get("/health/", headers={"X-Request-ID": 'x" onload=alert(1) ' * 10})

    assert len(plain["X-Request-ID"]) == 32
    assert len(hostile["X-Request-ID"]) == 32
    assert plain["X-Request-ID"] != hostile["X-Request-ID"]


def test_the_log_line_has_method_path_status_and_duration_but_no_query(client, caplog):
    caplog.set_level(logging.INFO, logger="platform.request")

    client.get("/health/?name=Rex+Smith")

    (record,) = request_records(caplog)
    assert (record.method, record.path, record.status) == ("GET", "/health/", 200)
    assert record.duration_ms > 0
    assert "Rex" not in caplog.text


def test_post_bodies_never_reach_the_log(client, caplog):
    caplog.set_level(logging.DEBUG)

    client.post("/health/", data={"image_base64": "iVBORw0KGgoSECRET", "patient_name": "Bella"})

    assert "iVBORw0KGgoSECRET" not in caplog.text
    assert "Bella" not in caplog.text


def test_configured_formatter_writes_one_json_object_per_line():
    config = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(config["fmt"], rename_fields=config["rename_fields"])
    record = logging.LogRecord("platform.request", logging.INFO, __file__, 1, "request", (), None)
    record.status = 201
    RequestIdFilter().filter(record)

    line = formatter.format(record)

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "INFO"
    assert parsed["logger"] == "platform.request"
    assert parsed["status"] == 201
    assert "request_id" in parsed


def test_choose_request_id_accepts_only_plain_tokens():
    assert choose_request_id("abc-123") == "abc-123"
    assert choose_request_id("a" * 129) != "a" * 129
    assert choose_request_id("two words") != "two words"
    assert choose_request_id(None)
