"""Where the chest X-ray API may read and write: confined to allowed roots.

The seed's clients name server-side paths (``input_image_path``, ``output_folder_path``), so
every path is resolved, symlinks followed, and must lie inside one of the roots the
deployment allows (``CXR_INPUT_ROOTS``, ``CXR_OUTPUT_ROOTS``: ``:``-separated; ``{customer}``
in a root is the calling customer's id, so each customer has folders of its own).  A relative
path, a ``..`` escape or a symlink pointing out of the roots is refused like any invalid path.

A patient id names a folder and files, so it is checked before it is used: letters, digits,
``.``, ``_`` and ``-``, starting with a letter or digit, at most 64 characters, never ``.``
or ``..`` — whether it came from the request or from the DICOM header.
"""

from __future__ import annotations

import re
from pathlib import Path

PATIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class PathRefused(Exception):
    """A path outside the allowed roots, or not a usable path at all."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: In a root, the calling customer's id: ``/srv/cxr/{customer}/input`` gives each customer
#: folders of its own, so one customer's users cannot name another's studies or outputs.  A
#: root without it is shared by every customer (one clinic's deployment, as in the seed).
CUSTOMER_PLACEHOLDER = "{customer}"


def roots_from(setting: str, customer_id: int | None = None) -> list[Path]:
    """The resolved roots of a ``:``-separated setting (empty entries ignored), with
    ``{customer}`` replaced by ``customer_id``; a root naming it counts only for a customer."""
    roots = []
    for entry in setting.split(":"):
        if not entry.strip():
            continue
        if CUSTOMER_PLACEHOLDER in entry:
            if customer_id is None:
                continue
            entry = entry.replace(CUSTOMER_PLACEHOLDER, str(int(customer_id)))
        roots.append(Path(entry).expanduser().resolve())
    return roots


def confine(raw: str, roots: list[Path], field: str) -> Path:
    """``raw`` resolved (symlinks followed), if it lies inside one of ``roots``.

    The path need not exist yet (an output folder may be created); what exists of it is
    resolved, so a symlink anywhere along it counts where it points.
    """
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise PathRefused(f"Invalid path {field}: {raw!r}")
    candidate = Path(raw)
    if not candidate.is_absolute():
        raise PathRefused(f"Invalid path {field}: {raw} (an absolute path is required)")
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable component
        raise PathRefused(f"Invalid path {field}: {raw} ({exc.__class__.__name__})") from exc
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise PathRefused(f"Invalid path {field}: {raw} (outside the allowed folders)")
    try:
        resolved.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass  # not there (yet): the caller says what that means for it
    except OSError as exc:  # a name too long for the file system, say: no path to use
        raise PathRefused(f"Invalid path {field}: {raw[:200]} ({exc.strerror})") from exc
    return resolved


def is_safe_patient_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and PATIENT_ID.fullmatch(value) is not None
        and value
        not in {
            ".",
            "..",
        }
    )
