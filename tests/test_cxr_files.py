"""Chest X-ray file handling: paths confined to allowed roots, output sets written atomically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.products.cxr.outputs import OutputFolderError, write_set
from inference.products.cxr.paths import PathRefused, confine, is_safe_patient_id, roots_from

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    return allowed


def test_a_path_inside_a_root_is_resolved(root):
    (root / "studies").mkdir()

    assert confine(f"{root}/studies/../studies/a.dcm", [root], "x") == root / "studies" / "a.dcm"


@pytest.mark.parametrize("raw", ["relative/a.dcm", "", "   ", "/etc/passwd", "/tmp/../etc/passwd"])
def test_relative_empty_and_outside_paths_are_refused(root, raw):
    with pytest.raises(PathRefused, match="Invalid path input_image_path"):
        confine(raw, [root], "input_image_path")


def test_a_dotdot_escape_is_refused(root):
    with pytest.raises(PathRefused, match="outside the allowed folders"):
        confine(f"{root}/../secret.dcm", [root], "input_image_path")


def test_a_symlink_pointing_out_of_the_root_is_refused(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.dcm").write_bytes(b"x")
    (root / "link").symlink_to(outside)

    with pytest.raises(PathRefused, match="outside the allowed folders"):
        confine(f"{root}/link/a.dcm", [root], "input_image_path")


def test_a_nul_byte_is_an_invalid_path(root):
    with pytest.raises(PathRefused):
        confine(f"{root}/a\x00.dcm", [root], "input_image_path")


def test_roots_come_from_a_colon_separated_setting(tmp_path):
    assert roots_from(f"{tmp_path}/a::{tmp_path}/b") == [tmp_path / "a", tmp_path / "b"]


@pytest.mark.parametrize("value", ["PAT001", "ph-12_3.4", "A" * 64])
def test_safe_patient_ids(value):
    assert is_safe_patient_id(value)


@pytest.mark.parametrize(
    "value", ["", ".", "..", "../x", "a/b", "a\\b", "-x", "A" * 65, "a b", "é", "a\x00", 7, None]
)
def test_unsafe_patient_ids(value):
    assert not is_safe_patient_id(value)


# --- atomic output sets --------------------------------------------------------------------------


def _names(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_a_set_is_written_whole_and_replaces_the_previous_one(tmp_path):
    folder = tmp_path / "out" / "PAT001"

    write_set(folder, {"a.json": b"1", "b.png": b"1"})
    paths = write_set(folder, {"a.json": b"2", "c.pdf": b"2"})

    assert _names(folder) == {"a.json": "2", "c.pdf": "2"}  # nothing of the old set remains
    assert paths == {"a.json": folder / "a.json", "c.pdf": folder / "c.pdf"}
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".PAT001.tmp")] == []


def test_an_uncreatable_output_folder_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(OutputFolderError, match="Unable to create output folder"):
        write_set(blocker / "PAT001", {"a.json": b"1"})


def _snapshot(folder: Path) -> set[str]:
    """What one folder (one directory inode, as a reader that opened it sees) holds."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        contents = set()
        for name in os.listdir(descriptor):
            file = os.open(name, os.O_RDONLY, dir_fd=descriptor)
            with os.fdopen(file) as handle:
                contents.add(handle.read())
        return contents
    finally:
        os.close(descriptor)


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from inference.products.cxr.outputs import write_set

def pause(name):
    print(name, flush=True)
    time.sleep(60)

write_set(Path(sys.argv[1]), {"a.json": b"new", "b.png": b"new", "c.pdf": b"new"},
          between_files=pause)
"""


@pytest.mark.parametrize("had_a_previous_set", [True, False])
def test_a_writer_killed_between_two_files_leaves_the_old_set_or_nothing(
    tmp_path, had_a_previous_set
):
    folder = tmp_path / "out" / "PAT001"
    if had_a_previous_set:
        write_set(folder, {"a.json": b"old", "b.png": b"old"})
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(folder)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "a.json"  # one file written, the next not yet
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)

    if had_a_previous_set:
        assert _names(folder) == {"a.json": "old", "b.png": "old"}
    else:
        assert not folder.exists()
    # The next write for the patient cleans up after the killed one and lands whole.
    write_set(folder, {"a.json": b"next"})
    assert _names(folder) == {"a.json": "next"}
    assert sorted(p.name for p in folder.parent.iterdir()) == [".PAT001.lock", "PAT001"]


def test_concurrent_writers_for_one_patient_never_mix_their_sets(tmp_path):
    folder = tmp_path / "out" / "PAT001"
    script = (
        "import sys; from pathlib import Path\n"
        "from inference.products.cxr.outputs import write_set\n"
        "for i in range(20):\n"
        "    tag = f'{sys.argv[2]}-{i}'.encode()\n"
        "    write_set(Path(sys.argv[1]), {n: tag for n in ('a.json', 'b.png', 'c.pdf')})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(folder), tag], cwd=REPO, env=env)
        for tag in ("x", "y")
    ]
    seen = []
    deadline = time.monotonic() + 60
    while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
        try:
            contents = _snapshot(folder)
        except FileNotFoundError:  # the folder was swapped out and removed while being read
            continue
        if contents:  # an empty read is an old set whose files were removed under the reader
            seen.append(contents)
    for writer in writers:
        assert writer.wait(timeout=30) == 0

    assert seen, "the reader never saw a set"
    assert all(len(contents) == 1 for contents in seen)  # one writer's set, never a mixture
    assert json.dumps(sorted(_names(folder))) == '["a.json", "b.png", "c.pdf"]'
