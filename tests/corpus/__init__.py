"""A corpus of hostile requests for every endpoint (issue 20, item 8), and what each must get.

A ``Case`` is one request and its documented answer: the status, the product's error
envelope (``ENVELOPES``) and, where the contract words it, the message.  Bodies that depend on
the running stack (a path inside its allowed folders, a valid key) are built from a
``Context`` at run time; everything else is fixed bytes, so every run sends the same corpus.
``tests/test_hostile_corpus.py`` sends them all to a live daphne and worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Each error envelope's required keys and, for some, fixed values.
ENVELOPES: dict[str, dict[str, Any]] = {
    # seed 002: {"error": message}
    "vhs": {"error": str},
    # seed 000: status_code, status, success, error, error_code, timestamp, ...
    "leukemia": {
        "status": "error",
        "success": False,
        "error": str,
        "error_code": str,
        "status_code": int,
        "timestamp": str,
    },
    # seed 001: {"Result": "Failure", "Data": null, "Message": message}
    "cxr": {"Result": "Failure", "Data": None, "Message": str},
    # DRF's own documents (/auth/token/): {"detail": ...} or {field: [messages]}
    "drf": {},
}


@dataclass(frozen=True)
class Context:
    """What a case's body may need from the running stack."""

    api_key: str
    token: str
    cxr_input: Path
    cxr_output: Path
    #: Outside every allowed root, for escapes.
    outside: Path
    #: A measurement of the key's customer, for corrections and reports.
    measurement_id: int


Body = bytes | Callable[[Context], bytes]


@dataclass(frozen=True)
class Case:
    """One hostile request and its documented answer."""

    name: str
    method: str
    path: str
    status: int
    envelope: str
    #: Raw body bytes (or built from the context) and the Content-Type sent with them.
    body: Body = b""
    content_type: str | None = None
    #: "key" (x-api-key), "jwt" (Authorization), "none", or a literal x-api-key to send.
    auth: str = "key"
    #: The message, or a part of it, that the contract words.
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body_bytes(self, context: Context) -> bytes:
        return self.body(context) if callable(self.body) else self.body

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.name}"
