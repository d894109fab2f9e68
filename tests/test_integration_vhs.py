"""The VHS API for real: daphne -> Redis -> a Celery worker holding the ensemble -> back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.vhs import draw_radiograph
from tests.servers import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SEED_CLIENT = REPO_ROOT / "tests" / "clients" / "vhs_seed_client.py"


def test_the_seeds_single_image_example_works_unchanged(platform_stack, tmp_path):
    raw_key = ApiKey.issue(Customer.objects.create(name="Seed example clinic"))[1]
    dog = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)
    dog.image.convert("RGB").save(tmp_path / "radiograph.jpg", format="JPEG", quality=92)

    result = subprocess.run(
        [sys.executable, str(SEED_CLIENT)],
        cwd=tmp_path,
        env={**os.environ, "API_BASE": f"{platform_stack.base_url}/vhs", "API_KEY": raw_key},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert abs(float(lines["VHS"]) - dog.truth["vhs"]) <= 1.0
    assert lines["Confidence"] in {"optimal", "good", "review"}
    assert lines["Result"].startswith("VHS and VLAS predicted")
    event = UsageEvent.objects.get()
    assert (event.billable, event.patient_uuid, event.call_type) == (True, "patient-123", "single")
