"""Products as a worker serves them: model groups with verified weights, warm, batched.

* ``ModelGroupRuntime`` serves one group of networks (one ``Predictor``): it verifies the
  group's files against the product's manifest, loads them safely on the chosen device,
  warms up and batches.  ``load()`` runs once per worker process (at start, or on first use
  when Celery runs eagerly) and never raises: a missing or corrupted file, a refused pickle
  or a broken network marks the group "not loaded" with the reason, which health shows.
* ``ProductRuntime`` serves one declared product: its groups, each loaded and reported on
  its own, and ``run(item)``, which decodes the request's image once (its pixels reserved
  from the process's budget, ``inference.runtime.pixels``) and hands it to the product's
  pipeline (or to its one group).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.utils.module_loading import import_string

from config.metrics import MODELS_LOADED
from inference.runtime.batching import MicroBatcher
from inference.runtime.device import choose_device
from inference.runtime.errors import InferenceTimeout, ModelsNotLoaded
from inference.runtime.images import decoded_item
from inference.runtime.manifest import Manifest, ManifestError, read_manifest, verify_file
from inference.runtime.predictor import Predictor
from inference.runtime.product import ModelGroup, ProductConfig
from inference.runtime.weights import load_weights

logger = logging.getLogger(__name__)


class ModelGroupRuntime:
    """Loads and serves one model group of a product."""

    def __init__(
        self, product: str, predictor_path: str, group: str = "", store: Path | None = None
    ) -> None:
        self.product = product
        self.group = group or product
        self.predictor_path = predictor_path
        self.store = store
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._attempted = False
        self._reason: str | None = "not loaded yet"
        self._manifest: Manifest | None = None
        self._roles: tuple[str, ...] = ()
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
    def reason(self) -> str | None:
        return self._reason

    @property
    def model_version(self) -> str | None:
        return self._manifest.model_version if self._manifest else None

    @property
    def model_source(self) -> str | None:
        """Where the group's weights came from: ``local`` or the hub they were fetched from."""
        if self._manifest is None:
            return None
        sources = {self._manifest.files[role].source for role in self._roles}
        return sources.pop() if len(sources) == 1 else "mixed"

    @property
    def device(self) -> str | None:
        return str(self._device) if self._device else None

    def load(self) -> bool:
        """Load once; later calls return at once. True when the group can serve."""
        if self._attempted:
            return self.loaded
        with self._lock:
            if not self._attempted:
                started = time.perf_counter()
                extra = {"product": self.product, "group": self.group}
                try:
                    self._load()
                    self._reason = None
                    logger.info("models loaded", extra=extra)
                except Exception as exc:  # any failure means "not loaded, here is why"
                    self._reason = f"{type(exc).__name__}: {exc}"[:500]
                    logger.error("models not loaded", extra={**extra, "reason": self._reason})
                finally:
                    self._attempted = True
                    MODELS_LOADED.labels(self.product, self.group).set(int(self.loaded))
                    self._load_ms = round((time.perf_counter() - started) * 1000, 1)
        return self.loaded

    def _load(self) -> None:
        try:
            self._manifest = read_manifest(self.store or settings.MODEL_STORE, self.product)
        except ManifestError as exc:
            raise RuntimeError(str(exc)) from exc
        predictor_class: type[Predictor] = import_string(self.predictor_path)
        self._roles = predictor_class.roles
        missing = [role for role in self._roles if role not in self._manifest.files]
        if missing:
            raise RuntimeError(f"manifest lists no file for {', '.join(missing)}")
        self._file_problems = {
            role: problem for role in self._roles if (problem := verify_file(self._manifest, role))
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
                for role in self._roles
            }
        )
        self._predictor = predictor
        batcher = MicroBatcher(
            self._run_batch,
            max_batch_size=settings.INFERENCE_MAX_BATCH_SIZE,
            max_wait_s=settings.INFERENCE_MAX_BATCH_WAIT_MS / 1000,
            name=f"batcher-{self.product}-{self.group}",
            labels=(self.product, self.group),
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
            raise ModelsNotLoaded(f"{self.product} models are not loaded: {self._reason}")
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
        return self._predictor.postprocess(row, item)

    def predict_inline(self, items: list[Any]) -> list[dict[str, Any]]:
        """Items through the networks in the caller's thread as one batch, no batcher: the
        in-process limit ``bench/pipeline.py`` and the peer server (``bench/peer``) measure
        (workers never use it)."""
        if not self.load():
            raise ModelsNotLoaded(f"{self.product} models are not loaded: {self._reason}")
        assert self._predictor is not None
        rows = self._run_batch([self._predictor.preprocess(item) for item in items])
        pairs = zip(rows, items, strict=True)
        return [self._predictor.postprocess(row, item) for row, item in pairs]

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """JSON-safe: what health documents show of this group."""
        files = self._manifest.describe_files(self.loaded) if self._manifest else {}
        files = {role: files[role] for role in self._roles if role in files}
        for role, described in files.items():
            described["problem"] = self._file_problems.get(role)
        status: dict[str, Any] = {
            "loaded": self.loaded,
            "device": self.device,
            "model_version": self.model_version,
            "reason": self._reason,
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


class ProductRuntime:
    """One declared product on a worker: its model groups and its pipeline."""

    def __init__(self, declaration: ProductConfig, store: Path | None = None) -> None:
        self.declaration = declaration
        self.name = declaration.product
        self.store = store
        self.groups: dict[str, ModelGroupRuntime] = {
            group.name: ModelGroupRuntime(self.name, group.predictor, group.name, store)
            for group in declaration.model_groups
        }
        self._pipeline = import_string(declaration.pipeline) if declaration.pipeline else None
        decoder = getattr(declaration, "decoder", None)
        self._decoded = import_string(decoder) if decoder else decoded_item

    @property
    def required_groups(self) -> list[ModelGroup]:
        return [group for group in self.declaration.model_groups if group.required]

    @property
    def loaded(self) -> bool:
        return all(self.groups[group.name].loaded for group in self.required_groups)

    def load(self) -> bool:
        """Load every group (each on its own); True when every required group can serve."""
        for group in self.groups.values():
            group.load()
        return self.loaded

    def unload(self) -> None:
        for group in self.groups.values():
            group.unload()

    def available(self, group: str) -> bool:
        """Whether ``group`` is loaded (pipelines ask before using an optional group)."""
        return group in self.groups and self.groups[group].load()

    def predict(self, group: str, item: Any, deadline: float | None = None) -> dict[str, Any]:
        """One item through one group's batcher (what pipelines call)."""
        return self.groups[group].predict(item, deadline)

    def run(
        self, item: dict[str, Any], deadline: float | None = None, *, inline: bool = False
    ) -> dict[str, Any]:
        """One request: decode its image once (within the process's pixel budget), run the
        pipeline, say which models answered.  ``inline`` runs every network in the caller's
        thread instead of through the batchers (``bench/pipeline.py``'s limit)."""
        if not self.load():
            raise ModelsNotLoaded(f"{self.name} models are not loaded: {self._reason()}")
        models: Any = _Inline(self) if inline else self
        # The decoded pixels count against the process's budget until the block ends.
        with self._decoded(item, deadline) as decoded:
            if self._pipeline is not None:
                result = self._pipeline(models, decoded, deadline)
            else:
                (only,) = self.groups
                result = models.predict(only, decoded, deadline)
        result["model"] = self.model_info()
        return result

    def run_inline(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several requests in the caller's thread: a one-group product's as one forward pass,
        a pipeline's one after another (each of its steps depends on the last)."""
        if self._pipeline is not None or not items:
            return [self.run(item, inline=True) for item in items]
        if not self.load():
            raise ModelsNotLoaded(f"{self.name} models are not loaded: {self._reason()}")
        (only,) = self.groups
        with contextlib.ExitStack() as stack:
            decoded = [stack.enter_context(self._decoded(item, None)) for item in items]
            results = self.groups[only].predict_inline(decoded)
        for result in results:
            result["model"] = self.model_info()
        return results

    def model_info(self) -> dict[str, Any]:
        groups = [self.groups[group.name] for group in self.required_groups]
        sources = {group.model_source for group in groups}
        return {
            "model_version": groups[0].model_version if groups else None,
            "model_source": sources.pop() if len(sources) == 1 else "mixed",
            "device": groups[0].device if groups else None,
        }

    def _reason(self) -> str | None:
        reasons = [
            f"{name}: {group.reason}"
            for name, group in self.groups.items()
            if not group.loaded and group.reason
        ]
        return "; ".join(reasons) or None

    def status(self) -> dict[str, Any]:
        """The product's status: every group's, and what they add up to.

        ``files`` and ``batching`` add the groups together (a one-group product's are its
        group's); ``groups`` keeps each group's own status.
        """
        groups = {name: group.status() for name, group in self.groups.items()}
        required = [groups[group.name] for group in self.required_groups]
        files: dict[str, Any] = {}
        for group_status in groups.values():
            files.update(group_status["files"])
        status: dict[str, Any] = {
            "loaded": self.loaded,
            "device": next((g["device"] for g in required if g["device"]), None),
            "model_version": next((g["model_version"] for g in required), None),
            "reason": self._reason(),
            "model_directory": str((self.store or settings.MODEL_STORE) / self.name),
            "files": files,
            "load_ms": sum(g["load_ms"] or 0.0 for g in groups.values()),
            "groups": groups,
        }
        batching = [g["batching"] for g in groups.values() if "batching" in g]
        if batching:
            status["batching"] = {
                "batches": sum(b["batches"] for b in batching),
                "items": sum(b["items"] for b in batching),
                "largest": max(b["largest"] for b in batching),
                "dropped_after_deadline": sum(b["dropped_after_deadline"] for b in batching),
                "max_batch_size": batching[0]["max_batch_size"],
                "max_wait_ms": batching[0]["max_wait_ms"],
            }
        return status


class _Inline:
    """A product's runtime as a pipeline sees it, every network run in the caller's thread."""

    def __init__(self, runtime: ProductRuntime) -> None:
        self.runtime = runtime

    def available(self, group: str) -> bool:
        return self.runtime.available(group)

    def model_info(self) -> dict[str, Any]:
        return self.runtime.model_info()

    def predict(self, group: str, item: Any, deadline: float | None = None) -> dict[str, Any]:
        return self.runtime.groups[group].predict_inline([item])[0]
