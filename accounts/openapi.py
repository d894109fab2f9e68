"""The schema says what brute-force throttling answers (``accounts.throttling``).

Every operation under a product's prefix can answer 429 once the caller's address has sent
too many wrong ``x-api-key`` values, in the product's error document (the one the operation
documents for 500) with ``Retry-After``.  A postprocessing hook adds it to each operation
that does not already document a 429 of its own (a product's own per-IP rate), so a view
written later is covered without naming it.
"""

from __future__ import annotations

import copy
from typing import Any

from inference.runtime.product import product_for_path

DESCRIPTION = (
    "Too many wrong `x-api-key` values from this address (`API_KEY_FAILURE_RATE`): every "
    "request from it is refused until `Retry-After` seconds have passed."
)
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Seconds to wait before trying again.",
    }
}


def declare_key_failure_throttling(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        if product_for_path(path) is None:
            continue
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "429" in responses or "500" not in responses:
                continue
            throttled = copy.deepcopy(responses["500"])
            throttled["description"] = DESCRIPTION
            throttled["headers"] = {**throttled.get("headers", {}), **RETRY_AFTER}
            responses["429"] = throttled
    return result
