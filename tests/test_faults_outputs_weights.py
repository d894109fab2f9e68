"""A corrupted weight file, and an unwritable or full output folder (issue 20, item 5).

* One product's weight file corrupted in a copy of the model store (the repository's files
  are never touched): that product reports not loaded (503 on its health and predict) while
  the others keep serving, on a real daphne (eager: the web process loads the models).
* The chest X-ray output folder read-only or full: the seed's 500 message, "Unable to create
  output folder: ...", and no partial files.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

from accounts.models import ApiKey, Customer
from inference.phantoms.leukemia import draw_cell
from inference.phantoms.vhs import draw_radiograph
from tests.servers import REPO_ROOT, platform_env, start_daphne

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _png_b64(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def corrupted_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("store") / "models"
    shutil.copytree(settings.MODEL_STORE, store)
    weights = store / "leukemia" / "feature_extractor.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = os.urandom(64)  # same size, other bytes
    weights.write_bytes(bytes(data))
    return store


@pytest.fixture(scope="module")
def web(test_database_url: str, corrupted_store: Path) -> Iterator[str]:
    daphne, base_url = start_daphne(
        platform_env(test_database_url, None, MODEL_STORE=str(corrupted_store))
    )
    yield base_url
    daphne.stop()


def test_a_corrupted_weight_file_takes_only_its_product_down(web):
    key = ApiKey.issue(Customer.objects.create(name="Weights clinic"))[1]

    health = requests.get(f"{web}/leukemia/health", timeout=120)
    predict = requests.post(
        f"{web}/leukemia/predict",
        json={"image_base64": _png_b64(draw_cell("Pro", seed=3).image)},
        timeout=120,
    )
    vhs = requests.post(
        f"{web}/vhs/v3/predict",
        json={"image": _png_b64(draw_radiograph(seed=4, vhs=11.2, vlas=2.0).image)},
        headers={"x-api-key": key},
        timeout=120,
    )
    vhs_health = requests.get(f"{web}/vhs/v3/health", headers={"x-api-key": key}, timeout=60)
    platform = requests.get(f"{web}/health/", timeout=60)

    assert health.status_code == 503, health.text
    assert (health.json()["status"], health.json()["models_loaded"]) == ("unhealthy", False)
    assert health.json()["reason"]  # why, in words (the file that failed its check)
    assert predict.status_code == 503, predict.text
    assert predict.json()["error_code"] == "MODELS_NOT_LOADED"
    assert vhs.status_code == 200, vhs.text
    assert vhs.json()["vhs"] > 0
    assert vhs_health.json()["status"] == "healthy"
    assert platform.status_code == 503
    assert platform.json()["failing"] == ["models:leukemia"]


_WRITER = """
import resource, sys
from pathlib import Path
from inference.products.cxr.outputs import OutputFolderError, write_set
if sys.argv[2] == "full":
    # A disk that fills up while the set is written: the second file cannot be written.
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_set(Path(sys.argv[1]), {"a.json": b"1" * 100, "b.png": b"2" * 100_000})
except OutputFolderError as exc:
    print(exc)
    sys.exit(3)
"""


def _write(folder: Path, how: str, as_user: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", _WRITER, str(folder), how]
    if as_user and os.geteuid() == 0:
        # root ignores permissions: the writer runs as nobody, as a service user would.
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_a_full_output_folder_is_the_seeds_500_message_and_leaves_no_partial_file(tmp_path):
    folder = tmp_path / "out" / "PAT001"

    done = _write(folder, "full")

    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("Unable to create output folder:"), done.stdout
    assert "File too large" in done.stdout
    # Neither the folder nor a staging copy; only the per-folder lock file (empty) remains.
    assert [p.name for p in (tmp_path / "out").iterdir()] == [".PAT001.lock"]


def test_a_read_only_output_folder_is_the_seeds_500_message_and_leaves_nothing():
    # Under /tmp itself, so that the unprivileged writer can reach it (pytest's are 0700).
    out = Path(tempfile.mkdtemp(prefix="cxr-read-only-")) / "out"
    out.parent.chmod(0o755)
    out.mkdir()
    out.chmod(0o555)

    done = _write(out / "PAT001", "ok", as_user=True)

    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("Unable to create output folder:"), done.stdout
    assert "Permission denied" in done.stdout
    assert list(out.iterdir()) == []
    shutil.rmtree(out.parent)
