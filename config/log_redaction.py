"""Keeping request payloads out of Celery's log lines.

Celery logs each task's arguments when it is received and its return value when it
succeeds ("Task ... received", "Task ... succeeded in 0.1s: {...}"), both as message
arguments and as an ``extra`` ``data`` field that the JSON formatter would print in full.
Our task arguments are images (base64) and patient identifiers, and results can carry
rendered images; none of that belongs in logs.  This filter, on the one log handler, replaces
those values before any line is formatted.
"""

from __future__ import annotations

import logging
from typing import Any

REDACTED = "[redacted]"
_PAYLOAD_KEYS = frozenset({"args", "kwargs", "return_value", "retval", "result"})


def _redact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: REDACTED if key in _PAYLOAD_KEYS else value for key, value in values.items()}


class RedactTaskPayloadFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("celery"):
            if isinstance(record.args, dict):
                record.args = _redact(record.args)
            data = getattr(record, "data", None)
            if isinstance(data, dict):
                record.data = _redact(data)
        return True
