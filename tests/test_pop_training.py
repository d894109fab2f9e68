"""Training one target keeps the other targets' manifest entries (never trains for real)."""

import json
import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from inference.products.vhs import training as vhs_training
from inference.products.vhs.pop import training as pop_training


def _fake(weight_files):
    def train(out_dir, seed=0, log=print):
        for filename in weight_files.values():
            (out_dir / filename).write_bytes(b"retrained " + filename.encode())
        return {"seed": seed, "fake": True}

    return train


@pytest.fixture
def store(settings, tmp_path):
    shutil.copytree(settings.MODEL_STORE / "vhs", tmp_path / "vhs")
    return tmp_path


def _manifest(store):
    return json.loads((store / "vhs" / "manifest.json").read_text())


def test_retraining_pop_keeps_the_vhs_entries(store, monkeypatch):
    before = _manifest(store)
    monkeypatch.setattr(pop_training, "train_reference_models", _fake(pop_training.WEIGHT_FILES))

    call_command("train_reference_models", "vhs", "--pop", "--store", str(store), stdout=StringIO())
    after = _manifest(store)

    assert after["files"]["landmarks_fold0"] == before["files"]["landmarks_fold0"]
    assert after["files"]["radiograph_classifier"] == before["files"]["radiograph_classifier"]
    assert after["files"]["pop_detector"]["sha256"] != before["files"]["pop_detector"]["sha256"]
    assert after["notes"]["pop_training"] == {"seed": 0, "fake": True}
    assert after["notes"]["training"] == before["notes"]["training"]


def test_retraining_vhs_keeps_the_pop_entry(store, monkeypatch):
    before = _manifest(store)
    monkeypatch.setattr(vhs_training, "train_reference_models", _fake(vhs_training.WEIGHT_FILES))

    call_command("train_reference_models", "vhs", "--store", str(store), stdout=StringIO())
    after = _manifest(store)

    assert after["files"]["pop_detector"] == before["files"]["pop_detector"]
    assert after["notes"]["pop_training"] == before["notes"]["pop_training"]
    assert (
        after["files"]["landmarks_fold0"]["sha256"] != before["files"]["landmarks_fold0"]["sha256"]
    )
