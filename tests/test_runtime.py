"""The inference runtime: manifests and checksums, safe loading, devices, batching, serving."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace

import pytest
import torch

from config.celery import app as celery_app
from inference.runtime import registry
from inference.runtime.batching import MicroBatcher
from inference.runtime.device import choose_device
from inference.runtime.dispatch import run_task, unwrap
from inference.runtime.errors import (
    DeadlineExceeded,
    InferenceFailed,
    ModelsNotLoaded,
)
from inference.runtime.manifest import ManifestError, read_manifest, verify_file
from inference.runtime.product import ModelGroup
from inference.runtime.serving import ProductRuntime
from inference.runtime.weights import UnsafeWeights, load_weights
from tests.tiny_predictor import identity_linear, make_store

CPU = torch.device("cpu")


@pytest.fixture
def tiny_store(tmp_path, settings):
    settings.MODEL_STORE = tmp_path
    make_store(tmp_path)
    return tmp_path


def tiny_declaration(name: str = "tiny") -> SimpleNamespace:
    """What the runtime reads of a product declaration: one group, no pipeline."""
    group = ModelGroup("linear", "tests.tiny_predictor.TinyPredictor")
    return SimpleNamespace(product=name, model_groups=(group,), pipeline=None)


@pytest.fixture
def tiny(tiny_store):
    runtime = ProductRuntime(tiny_declaration())
    yield runtime
    runtime.unload()


# --- manifests and checksums ---------------------------------------------------------------


def test_manifest_records_sha256_version_and_local_source(tiny_store):
    manifest = read_manifest(tiny_store, "tiny")

    assert manifest.model_version == "tiny-1.0"
    assert manifest.files["linear"].source == "local"
    assert len(manifest.files["linear"].sha256) == 64
    assert verify_file(manifest, "linear") is None


def test_a_corrupted_weight_file_fails_its_checksum(tiny_store):
    path = tiny_store / "tiny" / "linear.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    problem = verify_file(read_manifest(tiny_store, "tiny"), "linear")

    assert "checksum mismatch" in problem


def test_a_manifest_naming_a_path_outside_its_folder_is_refused(tiny_store):
    manifest_path = tiny_store / "tiny" / "manifest.json"
    raw = json.loads(manifest_path.read_text())
    raw["files"]["linear"]["filename"] = "../../etc/passwd"
    manifest_path.write_text(json.dumps(raw))

    with pytest.raises(ManifestError, match="must not contain a path"):
        read_manifest(tiny_store, "tiny")


# --- safe loading ----------------------------------------------------------------------------


def test_state_dicts_load_with_weights_only(tmp_path):
    torch.save(identity_linear().state_dict(), tmp_path / "w.pt")

    state = load_weights(tmp_path / "w.pt", "state_dict", CPU)

    assert torch.equal(state["weight"], torch.eye(2))


def test_a_pickled_whole_module_is_refused_as_a_state_dict(tmp_path):
    torch.save(identity_linear(), tmp_path / "module.pt")

    with pytest.raises(UnsafeWeights, match="pickled Python objects"):
        load_weights(tmp_path / "module.pt", "state_dict", CPU)


def test_a_pickled_module_loads_only_when_trusted(tmp_path):
    torch.save(identity_linear(), tmp_path / "module.pt")

    with pytest.raises(UnsafeWeights, match="TRUST_PICKLED_MODELS"):
        load_weights(tmp_path / "module.pt", "pickled_module", CPU)
    module = load_weights(tmp_path / "module.pt", "pickled_module", CPU, trust_pickled=True)
    assert isinstance(module, torch.nn.Linear)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_archives_load(tmp_path):
    torch.jit.script(identity_linear()).save(str(tmp_path / "scripted.pt"))

    module = load_weights(tmp_path / "scripted.pt", "torchscript", CPU)

    assert torch.equal(module(torch.ones(1, 2)), torch.ones(1, 2))


# --- device ----------------------------------------------------------------------------------


def test_auto_device_falls_back_to_cpu_without_accelerators():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device("auto").type in {expected, "mps"}


def test_a_named_device_that_is_missing_is_an_error_not_a_silent_fallback():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        choose_device("cuda")


# --- micro-batching ----------------------------------------------------------------------


def _submit_concurrently(batcher: MicroBatcher, items: list) -> list:
    """Each item from its own thread, announced first, as worker threads do."""
    barrier = threading.Barrier(len(items))
    results: list = [None] * len(items)

    def one(index: int) -> None:
        with batcher.expecting() as announcement:
            barrier.wait()  # every item is announced before any is submitted
            future = batcher.submit(items[index], announcement=announcement)
        results[index] = future.result(timeout=10)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_are_grouped_into_one_batch():
    seen: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        seen.append(list(items))
        return [item * 10 for item in items]

    batcher = MicroBatcher(run, max_batch_size=8, max_wait_s=5.0)
    try:
        results = _submit_concurrently(batcher, list(range(8)))
    finally:
        batcher.close()

    assert results == [i * 10 for i in range(8)]
    assert [sorted(batch) for batch in seen] == [list(range(8))]  # one forward pass


def test_the_batcher_waits_for_an_announced_item_then_runs_both_together():
    batcher = MicroBatcher(lambda items: items, max_batch_size=8, max_wait_s=5.0)
    announced, go = threading.Event(), threading.Event()

    def late_arrival() -> None:
        with batcher.expecting() as announcement:
            announced.set()
            go.wait(5)
            late.append(batcher.submit("late", announcement=announcement))

    late: list = []
    thread = threading.Thread(target=late_arrival)
    thread.start()
    announced.wait(5)
    early = batcher.submit("early")
    time.sleep(0.05)  # the batcher holds "early" back while "late" is being prepared
    assert not early.done()
    go.set()
    thread.join()
    try:
        assert early.result(timeout=5) == "early"
        assert late[0].result(timeout=5) == "late"
    finally:
        batcher.close()

    assert batcher.stats.sizes == {2: 1}


def test_a_batch_never_exceeds_the_maximum_size():
    sizes: list[int] = []
    release = threading.Event()

    def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        release.wait(5)
        return items

    batcher = MicroBatcher(run, max_batch_size=3, max_wait_s=0.05)
    try:
        futures = [batcher.submit(i) for i in range(10)]
        release.set()
        assert [f.result(timeout=10) for f in futures] == list(range(10))
    finally:
        batcher.close()

    assert max(sizes) <= 3
    assert sum(sizes) == 10


def test_a_lone_request_does_not_wait_for_company_that_is_not_coming():
    # A 60 s batching window, yet the answer comes at once: nothing else was announced.
    batcher = MicroBatcher(lambda items: items, max_batch_size=16, max_wait_s=60.0)
    try:
        assert batcher.submit("only").result(timeout=5) == "only"
    finally:
        batcher.close()

    assert batcher.stats.sizes == {1: 1}


def test_a_failing_batch_fails_each_of_its_requests_and_the_batcher_goes_on():
    calls = {"n": 0}

    def run(items: list[int]) -> list[int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("boom")
        return items

    batcher = MicroBatcher(run, max_batch_size=4, max_wait_s=0.0)
    try:
        with pytest.raises(ValueError, match="boom"):
            batcher.submit(1).result(timeout=5)
        assert batcher.submit(2).result(timeout=5) == 2
    finally:
        batcher.close()


def test_requests_whose_client_gave_up_are_dropped_before_the_forward_pass():
    ran: list[int] = []
    batcher = MicroBatcher(lambda items: ran.extend(items) or items, max_wait_s=0.0)
    try:
        future = batcher.submit(99, deadline=time.monotonic() - 1)
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=5)
    finally:
        batcher.close()

    assert ran == []
    assert batcher.stats.dropped == 1


# --- serving a product ---------------------------------------------------------------------


def test_a_product_loads_warms_up_and_predicts(tiny):
    assert tiny.load() is True

    result = tiny.run({"x": [1.5, -2.0]})

    assert result["y"] == [1.5, -2.0]
    assert result["model"] == {
        "model_version": "tiny-1.0",
        "model_source": "local",
        "device": "cpu",
    }
    status = tiny.status()
    assert status["loaded"] is True
    assert status["files"]["linear"]["local_exists"] is True
    assert status["batching"]["batches"] >= 2  # warm-up + the request


def test_a_checksum_mismatch_leaves_the_product_not_loaded_with_the_reason(tiny_store, tiny):
    path = tiny_store / "tiny" / "linear.pt"
    path.write_bytes(path.read_bytes() + b"tampered")

    assert tiny.load() is False

    status = tiny.status()
    assert status["loaded"] is False
    assert "checksum mismatch" in status["reason"]
    assert "checksum mismatch" in status["files"]["linear"]["problem"]
    with pytest.raises(ModelsNotLoaded, match="checksum mismatch"):
        tiny.run({"x": [1.0, 1.0]})


def test_a_missing_weight_file_leaves_the_product_not_loaded(tiny_store, tiny):
    (tiny_store / "tiny" / "linear.pt").unlink()

    assert tiny.load() is False
    assert "is missing" in tiny.status()["reason"]
    assert tiny.status()["files"]["linear"]["local_exists"] is False


def test_a_pickled_module_in_place_of_a_state_dict_is_refused_not_run(tiny_store, tiny):
    from inference.runtime.manifest import write_manifest

    torch.save(identity_linear(), tiny_store / "tiny" / "linear.pt")
    write_manifest(tiny_store, "tiny", "tiny-1.0", {"linear": "linear.pt"})

    assert tiny.load() is False
    assert "UnsafeWeights" in tiny.status()["reason"]


def test_a_missing_manifest_is_reported(tmp_path, settings):
    settings.MODEL_STORE = tmp_path
    runtime = ProductRuntime(tiny_declaration("absent"))

    assert runtime.load() is False
    assert "no manifest" in runtime.status()["reason"]


def test_concurrent_predictions_share_forward_passes(tiny, settings):
    settings.INFERENCE_MAX_BATCH_WAIT_MS = 200
    tiny.load()
    barrier = threading.Barrier(6)
    results: list = [None] * 6

    def one(index: int) -> None:
        barrier.wait()
        results[index] = tiny.run({"x": [float(index), 1.0]})["y"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [[float(i), 1.0] for i in range(6)]
    assert tiny.status()["batching"]["largest"] >= 3


def test_the_registry_reports_every_product_it_serves(tiny_store):
    registry.register(ProductRuntime(tiny_declaration()))
    try:
        assert "tiny" in registry.product_names()
        assert registry.runtime("tiny").load() is True
        assert registry.statuses()["tiny"]["loaded"] is True
        assert registry.statuses()["tiny"]["groups"]["linear"]["loaded"] is True
    finally:
        registry.runtime("tiny").unload()
        registry.unregister("tiny")


# --- outcomes crossing the broker ---------------------------------------------------------


def test_task_outcomes_unwrap_to_results_or_the_reported_error():
    assert unwrap({"ok": True, "result": {"a": 1}}) == {"a": 1}
    with pytest.raises(ModelsNotLoaded, match="not loaded"):
        unwrap({"ok": False, "error": {"code": "MODELS_NOT_LOADED", "message": "not loaded"}})
    with pytest.raises(InferenceFailed):
        unwrap({"ok": False, "error": {"code": "SOMETHING_NEW", "message": "?"}})
    with pytest.raises(InferenceFailed):
        unwrap("not an outcome")


# --- hub download path (a local stand-in for the hub: tests never reach the network) -----------


def _hub_manifest(store, payload: bytes):
    import hashlib

    directory = store / "hubbed"
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text(
        json.dumps(
            {
                "product": "hubbed",
                "model_version": "1",
                "repository": "owner/models",
                "files": {
                    "w": {
                        "filename": "w.pt",
                        "sha256": hashlib.sha256(payload).hexdigest(),
                        "source": "huggingface_hub",
                    }
                },
            }
        )
    )
    return directory


def test_fetch_downloads_missing_hub_files_and_checks_them(tmp_path):
    from inference.runtime.hub import fetch_product

    directory = _hub_manifest(tmp_path, b"weights")
    calls = []

    def hub(**kwargs):
        calls.append(kwargs)
        (directory / kwargs["filename"]).write_bytes(b"weights")
        return str(directory / kwargs["filename"])

    assert fetch_product(tmp_path, "hubbed", downloader=hub) == ["w"]
    assert calls[0]["repo_id"] == "owner/models"
    assert fetch_product(tmp_path, "hubbed", downloader=hub) == []  # present and valid
    assert len(calls) == 1


def test_a_downloaded_file_with_the_wrong_checksum_is_removed(tmp_path):
    from inference.runtime.hub import fetch_product

    directory = _hub_manifest(tmp_path, b"weights")

    def tampered_hub(**kwargs):
        (directory / kwargs["filename"]).write_bytes(b"something else")
        return ""

    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch_product(tmp_path, "hubbed", downloader=tampered_hub)
    assert not (directory / "w.pt").exists()


def test_inline_runs_the_same_networks_in_the_callers_thread_without_the_batcher(tiny):
    assert tiny.load() is True
    served = tiny.run({"x": [0.25, 3.0]})
    batches = tiny.status()["batching"]["batches"]

    inline = tiny.run({"x": [0.25, 3.0]}, inline=True)

    assert inline == served
    assert tiny.status()["batching"]["batches"] == batches  # no forward pass went through it


# --- eager tasks (make run) -------------------------------------------------------------------

_EAGER_PARTIES = 16
_eager_barrier = threading.Barrier(_EAGER_PARTIES)


@celery_app.task(name="tests.test_runtime.meet_in_eager_threads")
def meet_in_eager_threads() -> dict:
    """Waits until 16 eager tasks run at once: a pool of fewer threads never gets there."""
    _eager_barrier.wait(timeout=10)
    return {"ok": True, "result": threading.current_thread().name}


def test_eager_tasks_run_together_in_their_own_pool_not_the_event_loops_executor(settings):
    """The loop's default executor (a few threads, shared with the views' database and
    decoding calls) held 32 concurrent eager requests to a few at a time (issue 22)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_WORKER_CONCURRENCY = _EAGER_PARTIES

    async def together() -> list[str]:
        return await asyncio.gather(*(run_task(meet_in_eager_threads) for _ in range(16)))

    names = asyncio.run(together())

    assert all(name.startswith("eager-task") for name in names)
    assert len(set(names)) == _EAGER_PARTIES


def test_several_requests_run_inline_together_give_the_served_answers(tiny):
    items = [{"x": [float(i), -1.0]} for i in range(3)]
    served = [tiny.run(item) for item in items]

    assert tiny.run_inline(items) == served
