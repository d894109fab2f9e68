"""Settings come from the environment; production refuses to start without a secret key."""

import json
import os
import subprocess
import sys

from tests.servers import REPO_ROOT

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "channels": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "device": settings.INFERENCE_DEVICE,
    "store": str(settings.MODEL_STORE),
    "hosts": settings.ALLOWED_HOSTS,
}))
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "MODEL_STORE"}
    }
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_defaults_need_no_services():
    result = run_python(PRINT_SETTINGS)

    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["eager"] is True
    assert values["cache"].endswith("LocMemCache")
    assert values["channels"] == "channels.layers.InMemoryChannelLayer"
    assert values["device"] == "auto"
    assert values["store"] == str(REPO_ROOT / "models")


def test_redis_url_switches_broker_cache_and_channel_layer_to_redis():
    result = run_python(
        PRINT_SETTINGS,
        REDIS_URL="redis://127.0.0.1:6379/2",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/medimg",
        INFERENCE_DEVICE="cuda:1",
        MODEL_STORE="/srv/models",
        ALLOWED_HOSTS="api.example.com,10.0.0.5",
    )

    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.postgresql"
    assert values["eager"] is False
    assert values["broker"] == "redis://127.0.0.1:6379/2"
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["channels"] == "channels_redis.core.RedisChannelLayer"
    assert values["device"] == "cuda:1"
    assert values["store"] == "/srv/models"
    assert values["hosts"] == ["api.example.com", "10.0.0.5"]


def test_production_start_refuses_an_unset_secret_key():
    result = run_python("import config.asgi")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "platform/env.example" in result.stderr


def test_a_development_start_without_secret_key_is_allowed_with_debug():
    assert run_python("import config.asgi", DEBUG="true").returncode == 0


def test_a_production_start_with_a_secret_key_is_allowed():
    assert run_python("import config.asgi", SECRET_KEY="s" * 50).returncode == 0


def test_the_standard_library_platform_module_is_not_shadowed():
    result = run_python("import platform, uuid; print(platform.system())")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Linux"
