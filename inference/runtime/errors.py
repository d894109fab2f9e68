"""Failures of inference that the web tier turns into each product's error envelope.

Workers never let an exception cross the broker: a task returns a JSON outcome with one of
these codes, and ``inference.runtime.dispatch`` raises the matching exception in the web tier.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class; ``code`` is stable and travels in task outcomes."""

    code = "INFERENCE_ERROR"

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


class InferenceFailed(InferenceError):
    """Inference failed on the worker for an unexpected reason (details in the worker log)."""

    code = "INFERENCE_FAILED"


_BY_CODE = {
    cls.code: cls
    for cls in (
        ModelsNotLoaded,
        InferenceTimeout,
        DeadlineExceeded,
        InvalidInput,
        Overloaded,
        InferenceFailed,
    )
}


def from_outcome(code: str, message: str) -> InferenceError:
    """Rebuild the exception a worker reported; unknown codes become ``InferenceFailed``."""
    return _BY_CODE.get(code, InferenceFailed)(message)
