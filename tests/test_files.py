"""The one atomic-write helper and the one folder publisher."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from constlang.files import atomic_write_text, publish_dir, staging_dir


def test_atomic_write_replaces_content_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", "utf-8")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new\n")
    assert target.read_text("utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_write_converts_newlines_on_request(tmp_path: Path) -> None:
    target = tmp_path / "crlf.txt"
    atomic_write_text(target, "a\nb\n", newline="\r\n")
    assert target.read_bytes() == b"a\r\nb\r\n"


def test_atomic_write_goes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old", "utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink()
    assert real.read_text("utf-8") == "new"


def test_atomic_write_through_a_symlink_loop_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError) as info:  # the CLI reports OSErrors as "cannot write"
        atomic_write_text(tmp_path / "a", "x")
    assert info.value.errno == errno.ELOOP


def test_atomic_write_to_a_device_writes_in_place() -> None:
    before = os.stat("/dev/null")
    atomic_write_text(Path("/dev/null"), "discarded")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_publish_dir_replaces_the_old_folder_whole(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.bin").write_text("old", "utf-8")
    staging = staging_dir(final)
    assert staging.parent == tmp_path and staging.name.startswith(".model.")
    (staging / "new.bin").write_text("new", "utf-8")
    publish_dir(staging, final)
    assert sorted(p.name for p in final.iterdir()) == ["new.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_publish_dir_that_fails_keeps_the_old_folder(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.bin").write_text("old", "utf-8")
    with pytest.raises(OSError):
        publish_dir(tmp_path / "no such staging folder", final)
    assert sorted(p.name for p in final.iterdir()) == ["old.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
