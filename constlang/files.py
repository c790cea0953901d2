"""Files: the one way to read an input (regular files only, bounded) and to replace a file or
publish a folder with no half-written state."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import BinaryIO, cast


class NotRegularFile(OSError):
    """A path names a device, FIFO, socket or folder where a regular file was expected.

    An OSError, not a ConstlangError: each reader turns it into its own message, as it does
    every other OSError of a read."""


class FileTooLarge(OSError):
    """A file holds more bytes than the reader accepts.

    An OSError, not a ConstlangError: each reader turns it into its own message, as it does
    every other OSError of a read."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(errno.EFBIG, f"file is larger than the limit of {limit:,} bytes",
                         str(path))
        self.limit = limit


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a regular file"


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for binary reading, never blocking on what is not one.

    The open does not wait for a FIFO's writer (O_NONBLOCK), and the type is checked on the
    open descriptor, so a path swapped between a check and the open cannot slip through.
    Raises NotRegularFile (with IsADirectoryError for folders) and any other OSError.
    """
    return _open_checked(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0), "rb")


def _open_checked(path: Path, flags: int, how: str, create_mode: int = 0o644) -> BinaryIO:
    """Open without blocking on a FIFO's other end, check on the descriptor that it is a
    regular file (so a path swapped after a check cannot slip through), then make it block.
    Raises IsADirectoryError, NotRegularFile and any other OSError."""
    fd = os.open(path, flags | os.O_NONBLOCK, create_mode)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"is {file_kind(mode)}, not a regular file",
                                 str(path))
        os.set_blocking(fd, True)
        return cast(BinaryIO, os.fdopen(fd, how))
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; FileTooLarge past that.

    The size is found by reading (at most limit + 1 bytes), not from st_size, which a file
    being appended to, or a special file, does not report truthfully.
    """
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, limit)
    return data


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def open_append_own(path: Path) -> BinaryIO:
    """Open a file of our own (in a run directory) for appending, creating it if absent.

    Never through a symbolic link (O_NOFOLLOW: ELOOP) and never into a FIFO or device (the
    open does not block, and the type is checked on the descriptor): NotRegularFile.
    """
    return _open_checked(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW, "ab")


def open_own(path: Path, writable: bool = False) -> BinaryIO:
    """Open a regular file of our own for reading (or reading and writing, to cut a partial
    last line), never through a symbolic link and never blocking on a FIFO."""
    flags = (os.O_RDWR if writable else os.O_RDONLY) | NOFOLLOW
    return _open_checked(path, flags, "r+b" if writable else "rb")


def read_own(path: Path, limit: int) -> bytes:
    """`read_bounded` for a file of our own: never through a symbolic link."""
    with open_own(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, limit)
    return data


def atomic_write_bytes(path: Path, data: bytes, *, make_parents: bool = False,
                       follow: bool = True) -> None:
    """Replace the file at `path` with `data`: readers see the old file or the new one.

    The folder must exist unless `make_parents` is set (run directories create theirs; a
    user's `-o` path does not get folders made for it).
    With `follow` (a path the user named), a symbolic link is written through (its target
    changes, the link stays), and a path that is not a regular file (a device such as
    /dev/null, a FIFO) is written to in place rather than replaced by a regular file.
    Without it (a file of our own, in a run directory), whatever is at `path` — a link, a
    FIFO — is replaced by the new regular file and nothing outside is touched.
    Raises OSError when the path cannot be written.
    """
    path = Path(path)
    if not follow:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, data, None)
        return
    if path.is_symlink():
        try:
            path = path.resolve()
        except RuntimeError:  # a symlink loop, before Python 3.13: an OSError like any other
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with path.open("wb") as fh:
            fh.write(data)
        return
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, data, mode)


def _replace(path: Path, data: bytes, mode: int | None) -> None:
    """Write `data` to a fresh sibling, then rename it over `path` (keeping `mode`'s bits)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))  # keep the permissions of the file replaced
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, newline: str = "\n",
                      make_parents: bool = False, follow: bool = True) -> None:
    """`atomic_write_bytes` of UTF-8 text; `newline` replaces each "\\n" (e.g. "\\r\\n")."""
    if newline != "\n":
        text = text.replace("\n", newline)
    atomic_write_bytes(path, text.encode("utf-8"), make_parents=make_parents, follow=follow)


def remove_own(path: Path) -> None:
    """Remove whatever is at `path` (a folder with all it holds, a file, a link, a FIFO)
    without following a link: a link is removed, never its target. Absent is fine."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)  # removes the links inside a folder, never what they point to
    else:
        os.unlink(path)


def staging_dir(final: Path) -> Path:
    """A fresh, empty sibling folder of `final` to build its next version in."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir()  # not mkdtemp: its 0700 mode would stay on the published folder
    return staging


def publish_dir(staging: Path, final: Path) -> Path:
    """Move a finished `staging` folder to `final`, replacing what was there.

    The old folder is first renamed aside, so at every moment `final` is absent, the complete
    old version or the complete new one; a crash leaves at most a hidden `.stale` sibling.
    """
    staging, final = Path(staging), Path(final)
    stale = None
    if os.path.lexists(final):  # a link there is moved aside and removed, not followed
        stale = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.stale"
        os.replace(final, stale)
    try:
        os.replace(staging, final)
    except BaseException:
        if stale is not None:
            os.replace(stale, final)  # put the old version back rather than leave none
        raise
    fsync_dir(final.parent)
    if stale is not None:
        try:
            remove_own(stale)
        except OSError:
            pass  # a hidden leftover costs space, not correctness
    return final
