"""A product as a worker serves it: verified weights, a warm model, a batcher, a status.

``ProductRuntime.load()`` runs once per worker process (at start, or on first use when Celery
runs eagerly) and never raises: a missing or corrupted file, a refused pickle or a broken
network marks the product "not loaded" with the reason, which ``/health/`` shows.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import torch
from django.conf import settings
from django.utils.module_loading import import_string

from inference.runtime.batching import MicroBatcher
from inference.runtime.device import choose_device
from inference.runtime.errors import InferenceTimeout, ModelsNotLoaded
from inference.runtime.manifest import Manifest, ManifestError, read_manifest, verify_file
from inference.runtime.predictor import Predictor
from inference.runtime.weights import load_weights

logger = logging.getLogger(__name__)


class ProductRuntime:
    """Loads and serves one product's predictor; registered in ``inference.runtime.registry``."""

    def __init__(self, name: str, predictor_path: str) -> None:
        self.name = name
        self.predictor_path = predictor_path
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._attempted = False
        self._reason: str | None = "not loaded yet"
        self._manifest: Manifest | None = None
        self._file_problems: dict[str, str] = {}
        self._predictor: Predictor | None = None
        self._batcher: MicroBatcher[torch.Tensor, torch.Tensor] | None = None
        self._device: torch.device | None = None
        self._load_ms: float | None = None

    # --- loading ---------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._batcher is not None

    @property
    def model_version(self) -> str | None:
        return self._manifest.model_version if self._manifest else None

    @property
    def model_source(self) -> str | None:
        """Where the weights came from: ``local`` or the hub they were fetched from."""
        if self._manifest is None:
            return None
        sources = {model_file.source for model_file in self._manifest.files.values()}
        return sources.pop() if len(sources) == 1 else "mixed"

    @property
    def device(self) -> str | None:
        return str(self._device) if self._device else None

    def load(self) -> bool:
        """Load once; later calls return at once. True when the product can serve."""
        if self._attempted:
            return self.loaded
        with self._lock:
            if not self._attempted:
                started = time.perf_counter()
                try:
                    self._load()
                    self._reason = None
                    logger.info("models loaded", extra={"product": self.name})
                except Exception as exc:  # any failure means "not loaded, here is why"
                    self._reason = f"{type(exc).__name__}: {exc}"[:500]
                    logger.error(
                        "models not loaded", extra={"product": self.name, "reason": self._reason}
                    )
                finally:
                    self._attempted = True
                    self._load_ms = round((time.perf_counter() - started) * 1000, 1)
        return self.loaded

    def _load(self) -> None:
        try:
            self._manifest = read_manifest(settings.MODEL_STORE, self.name)
        except ManifestError as exc:
            raise RuntimeError(str(exc)) from exc
        predictor_class: type[Predictor] = import_string(self.predictor_path)
        missing = [role for role in predictor_class.roles if role not in self._manifest.files]
        if missing:
            raise RuntimeError(f"manifest lists no file for {', '.join(missing)}")
        self._file_problems = {
            role: problem
            for role in predictor_class.roles
            if (problem := verify_file(self._manifest, role))
        }
        if self._file_problems:
            raise RuntimeError("; ".join(self._file_problems.values()))
        self._device = choose_device(settings.INFERENCE_DEVICE)
        predictor = predictor_class(self._device)
        predictor.load(
            {
                role: load_weights(
                    self._manifest.path_of(role),
                    self._manifest.files[role].format,
                    self._device,
                    trust_pickled=settings.TRUST_PICKLED_MODELS,
                )
                for role in predictor_class.roles
            }
        )
        self._predictor = predictor
        batcher = MicroBatcher(
            self._run_batch,
            max_batch_size=settings.INFERENCE_MAX_BATCH_SIZE,
            max_wait_s=settings.INFERENCE_MAX_BATCH_WAIT_MS / 1000,
            name=f"batcher-{self.name}",
        )
        # Warm-up: one real forward pass through the batcher, before any request.
        batcher.submit(predictor.preprocess(predictor.warmup_item())).result(timeout=120)
        self._batcher = batcher

    def unload(self) -> None:
        """Forget the models (tests swap model stores; operators never need this)."""
        with self._lock:
            if self._batcher is not None:
                self._batcher.close()
            self._reset()

    # --- serving ---------------------------------------------------------------------------

    def _run_batch(self, items: list[torch.Tensor]) -> list[torch.Tensor]:
        assert self._predictor is not None
        with torch.inference_mode():
            batch = torch.stack(items).to(self._device)
            return list(self._predictor.forward(batch).detach().to("cpu"))

    def predict(self, item: Any, deadline: float | None = None) -> dict[str, Any]:
        """Run one item through the batcher; ``deadline`` is a ``time.monotonic()`` instant."""
        if not self.load():
            raise ModelsNotLoaded(f"{self.name} models are not loaded: {self._reason}")
        assert self._predictor is not None
        assert self._batcher is not None
        # The batcher holds a forming batch open for this item while it is being prepared.
        with self._batcher.expecting() as announcement:
            tensor = self._predictor.preprocess(item)
            future = self._batcher.submit(tensor, deadline, announcement)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            row = future.result(timeout=timeout)
        except TimeoutError as exc:
            raise InferenceTimeout() from exc
        result = self._predictor.postprocess(row, item)
        result["model"] = {
            "model_version": self.model_version,
            "model_source": self.model_source,
            "device": self.device,
        }
        return result

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """JSON-safe: what ``/health/`` and the products' own health endpoints show."""
        files = self._manifest.describe_files(self.loaded) if self._manifest else {}
        for role, described in files.items():
            described["problem"] = self._file_problems.get(role)
        status: dict[str, Any] = {
            "loaded": self.loaded,
            "device": self.device,
            "model_version": self.model_version,
            "reason": self._reason,
            "model_directory": str(settings.MODEL_STORE / self.name),
            "files": files,
            "load_ms": self._load_ms,
        }
        if self._batcher is not None:
            stats = self._batcher.stats
            status["batching"] = {
                "max_batch_size": self._batcher.max_batch_size,
                "max_wait_ms": self._batcher.max_wait_s * 1000,
                "batches": stats.batches,
                "items": stats.items,
                "largest": stats.largest,
                "dropped_after_deadline": stats.dropped,
            }
        return status
