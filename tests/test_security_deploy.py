"""``manage.py check --deploy`` is clean with the production environment that
``platform/env.example`` and ``platform/DEPLOYMENT.md`` document, and each HTTPS knob it
needs is an environment variable; the HTTPS redirect spares the health endpoints."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "api.clinic.example",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}


def check_deploy(**environment: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION and key not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}
    }
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", **environment}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_in_production_settings():
    result = check_deploy(**PRODUCTION, SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_without_the_https_environment_check_deploy_names_each_knob():
    result = check_deploy(
        DEBUG="false", ALLOWED_HOSTS="api.clinic.example", SECRET_KEY=secrets.token_urlsafe(50)
    )

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, check


def test_a_placeholder_secret_key_fails_check_deploy():
    result = check_deploy(**PRODUCTION, SECRET_KEY="")

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600)
def test_the_https_redirect_spares_health_probes_and_https_answers_carry_hsts():
    client = Client()

    assert client.get("/admin/login/").status_code == 301
    assert client.get("/admin/login/")["Location"].startswith("https://")
    for probe in ("/health/", "/leukemia/health", "/vhs/v3/health"):
        assert client.get(probe).status_code != 301, probe
    secure = client.get("/admin/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=3600"
