"""Writing a study's output files as one set: a reader finds the old set or the whole new one.

The files are written into a temporary sibling folder, flushed to disk, then swapped in for
``<output>/<patient_id>/`` with a single atomic rename under a per-folder lock
(``fcntl.flock`` on a sibling lock file, so concurrent requests in other processes take
turns).  When the folder already exists the swap is ``renameat2(RENAME_EXCHANGE)``, one
system call that exchanges the two folders; the old set is then removed.  A writer killed
half-way leaves only a hidden ``.<patient_id>.tmp-*`` folder, which the next write for the
same patient removes.  On a file system without ``RENAME_EXCHANGE`` the old folder is moved
aside first (two renames: a reader may then briefly find no folder, never a partial one).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


class OutputFolderError(Exception):
    """The output folder could not be created or written."""


def _exchange(first: Path, second: Path) -> bool:
    """Atomically exchange two paths; False where the system cannot."""
    if _renameat2 is None:
        return False
    result = _renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first))


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    lock_path = folder.parent / f".{folder.name}.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _unable(path: Path, exc: OSError) -> str:
    return f"Unable to create output folder: {path} ({exc.strerror or exc})"


def _swap_in(staging: Path, folder: Path) -> None:
    """``staging`` becomes ``folder`` in one rename (an exchange when ``folder`` exists)."""
    if not folder.exists():
        os.rename(staging, folder)
    elif _exchange(staging, folder):
        shutil.rmtree(staging)  # it now holds the old set
    else:
        aside = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex}"
        os.rename(folder, aside)
        os.rename(staging, folder)
        shutil.rmtree(aside, ignore_errors=True)


def write_set(
    folder: Path,
    files: dict[str, bytes],
    *,
    between_files: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write ``files`` (name -> bytes) as the whole content of ``folder``; their final paths.

    ``between_files`` is called after each file is written (tests use it to kill a writer
    half-way).
    """
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(_unable(parent, exc)) from exc
    staging = parent / f".{folder.name}.tmp-{uuid.uuid4().hex}"
    try:
        # One writer per patient folder at a time: the lock also makes it safe to remove
        # what a killed writer left behind.
        with _folder_lock(folder):
            for stale in parent.glob(f".{folder.name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            staging.mkdir()
            for name, content in files.items():
                with open(staging / name, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
                if between_files is not None:
                    between_files(name)
            _fsync_dir(staging)
            _swap_in(staging, folder)
            _fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputFolderError(_unable(folder, exc)) from exc
    return {name: folder / name for name in files}
