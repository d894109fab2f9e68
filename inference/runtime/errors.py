"""Failures of inference that the web tier turns into each product's error envelope.

Workers never let an exception cross the broker: a task returns a JSON outcome with one of
these codes, and ``inference.runtime.dispatch`` raises the matching exception in the web tier.
"""

from __future__ import annotations

from django.db.utils import InterfaceError as DatabaseInterfaceError
from django.db.utils import OperationalError as DatabaseUnreachable
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: What the Redis client and kombu raise when Redis (broker, result or payload store, cache,
#: channel layer) cannot be reached or stops answering, and what Django raises when the
#: database does (a restart cuts connections: "terminating connection", "connection failed").
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BrokerError,
    DatabaseUnreachable,
    DatabaseInterfaceError,
)


class InferenceError(Exception):
    """Base class; ``code`` is stable and travels in task outcomes.

    A product's own failure (a pipeline step that found nothing, say) subclasses this with
    its ``code`` and the HTTP ``status`` it answers; every subclass is known by its code, so
    it crosses the broker and is raised again in the web tier as itself.
    """

    code = "INFERENCE_ERROR"
    #: The HTTP status of a product-defined failure; None for the platform's own (classified
    #: one by one in ``inference.api.errors``).
    status: int | None = None
    _by_code: dict[str, type[InferenceError]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        InferenceError._by_code[cls.code] = cls

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()


class ModelsNotLoaded(InferenceError):
    """The product's models are not loaded on the worker."""

    code = "MODELS_NOT_LOADED"


class InferenceTimeout(InferenceError):
    """No result came back within the request's time limit."""

    code = "INFERENCE_TIMEOUT"


class DeadlineExceeded(InferenceError):
    """The request's deadline passed before its batch ran; the client has given up."""

    code = "DEADLINE_EXCEEDED"


class InvalidInput(InferenceError):
    """The worker could not use the input (it passed the web tier's checks but not the model's)."""

    code = "INVALID_INPUT"


class Overloaded(InferenceError):
    """This process already holds as many decoded pixels as it may; retry shortly."""

    code = "OVERLOADED"


class NoWorker(InferenceError):
    """No inference worker is consuming the queue: the request would only wait."""

    code = "NO_WORKER"


class BackendUnavailable(InferenceError):
    """Redis (broker, result store or payload store) or the database cannot be reached: the
    request can be neither served nor recorded, so it fails at once (503) instead of waiting
    or answering a 500."""

    code = "BACKEND_UNAVAILABLE"


class InferenceFailed(InferenceError):
    """Inference failed on the worker for an unexpected reason (details in the worker log)."""

    code = "INFERENCE_FAILED"


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says Redis or the broker is unreachable (the platform's fault, a 503),
    rather than a defect (a 500)."""
    return isinstance(exc, (BackendUnavailable, *OUTAGE_ERRORS))


def from_outcome(code: str, message: str) -> InferenceError:
    """Rebuild the exception a worker reported; unknown codes become ``InferenceFailed``."""
    return InferenceError._by_code.get(code, InferenceFailed)(message)
