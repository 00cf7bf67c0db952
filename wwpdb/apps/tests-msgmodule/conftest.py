"""Shared fixtures: the project's own example archive, the real OneDep samples, stores."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEST_DATA = HERE / "test_data"
EXAMPLE_ARCHIVE = TEST_DATA / "archive"
REPO_ROOT = HERE.parents[2]
SAMPLES = Path(os.environ.get("MSGMODULE_SAMPLES", REPO_ROOT.parent / "shared" / "data" / "samples"))
SAMPLE_NAME = re.compile(r"(?P<dep>[DG]_\d+)_(?P<ct>[a-z-]+)_P1\.cif\.V(?P<version>\d+)")


def sample_files() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(path for path in SAMPLES.iterdir() if SAMPLE_NAME.fullmatch(path.name))


def split_name(path: Path) -> tuple[str, str]:
    """(deposition id, content type) from a message file's name."""
    match = SAMPLE_NAME.fullmatch(path.name)
    assert match, path
    return match["dep"], match["ct"]


@pytest.fixture
def example_archive(tmp_path: Path) -> Path:
    """A writable copy of the project's own example archive (test_data/archive)."""
    root = tmp_path / "archive"
    shutil.copytree(EXAMPLE_ARCHIVE, root)
    return root


@pytest.fixture
def samples() -> list[Path]:
    """The real OneDep sample files in ../shared/data/samples, or a visible skip."""
    files = sample_files()
    if not files:
        pytest.skip(f"real OneDep samples not present at {SAMPLES} (CI has them; set MSGMODULE_SAMPLES)")
    return files


@pytest.fixture
def sample_archive(tmp_path: Path, samples: list[Path]) -> Path:
    """The samples laid out as an archive: <root>/<DEPID>/<file> (a copy in tmp)."""
    root = tmp_path / "sample-archive"
    for path in samples:
        deposition_id, _ = split_name(path)
        folder = root / deposition_id
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.name)
    return root


@contextlib.contextmanager
def read_only(folder: Path):
    """Make a folder really unwritable, for root too (root ignores mode bits: use chattr +i)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"running as root and chattr +i failed: {result.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
