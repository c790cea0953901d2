"""Run directory: content hashes of artifacts, remembered by file identity, and the scan that
proves a stage folder holds only regular files and folders of its own."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from constlang.errors import UserError
from constlang.files import file_kind, open_own, open_regular

# what a stage folder holds that is not an output: its record and its log, both rewritten
# after the outputs are final
NOT_OUTPUTS = frozenset({"manifest.json", "metrics.jsonl"})
MAX_ENTRIES = 1_000_000  # files and folders a stage folder may hold before the scan gives up


class RunDirError(UserError):
    """The run directory holds something a run did not write (a link, a FIFO, a damaged
    file); the message is one line naming the path and what to do."""


@dataclass(frozen=True)
class Identity:
    """What changes whenever a file's content can have changed: a new inode (a rename over
    it), a new size, a new modification or status-change time (ctime cannot be set back)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class OutputFile(BaseModel):
    """One file a completed stage left, as its manifest records it."""

    model_config = ConfigDict(extra="forbid")

    path: str  # relative to the stage folder, with `/`
    size: int
    sha256: str
    identity: list[int]  # device, inode, size, mtime_ns, ctime_ns when it was hashed


# path → (identity, hash): a file is hashed once while its identity stays the same
_MEMO: dict[str, tuple[Identity, str]] = {}


def sha256_json(data: Any) -> str:
    """sha256 of the canonical JSON of data."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path, *, follow: bool = True) -> str:
    """sha256 of a regular file's bytes; remembered until the file's identity changes.

    `follow` (a user's dataset) reads through a symbolic link; without it (a file in a run
    directory) a link is refused (OSError ELOOP).
    """
    with (open_regular(path) if follow else open_own(path)) as fh:
        ident = Identity.of(os.fstat(fh.fileno()))
        key = os.path.abspath(path)
        known = _MEMO.get(key)
        if known is not None and known[0] == ident:
            return known[1]
        digest = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = "sha256:" + digest.hexdigest()
    _MEMO[key] = (ident, value)
    return value


def remember(root: Path, files: list[OutputFile]) -> None:
    """Trust the recorded hash of each file whose identity is still the recorded one."""
    for f in files:
        path = root / f.path
        try:
            st = os.lstat(path)
        except OSError:
            continue
        ident = Identity.of(st)
        if stat.S_ISREG(st.st_mode) and list(_astuple(ident)) == f.identity:
            _MEMO[os.path.abspath(path)] = (ident, f.sha256)


def _astuple(ident: Identity) -> tuple[int, ...]:
    return ident.device, ident.inode, ident.size, ident.mtime_ns, ident.ctime_ns


def scan(root: Path) -> list[tuple[str, os.stat_result]]:
    """(relative path, stat) of every regular file under `root`, sorted, never following a
    link; RunDirError for a symbolic link, FIFO, device or socket anywhere in it (or `root`
    itself being one). An absent `root` holds nothing."""
    try:
        top = os.lstat(root)
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(top.st_mode):
        raise foreign(root, top)
    found: list[tuple[str, os.stat_result]] = []
    stack = [(root, "")]
    seen = 0
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_ENTRIES:
                    raise RunDirError(f"{root} holds more than {MAX_ENTRIES:,} files and "
                                      "folders; a stage writes far fewer")
                st = entry.stat(follow_symlinks=False)
                rel = prefix + entry.name
                if stat.S_ISDIR(st.st_mode):
                    stack.append((Path(entry.path), rel + "/"))
                elif stat.S_ISREG(st.st_mode):
                    found.append((rel, st))
                else:
                    raise foreign(Path(entry.path), st)
    return sorted(found, key=lambda item: item[0].split("/"))  # as Path objects sort


def foreign(path: Path, st: os.stat_result | None = None) -> RunDirError:
    """The one error for a link, FIFO, device or socket where a run directory holds only its
    own regular files and folders (`st`: its lstat, when the caller has it)."""
    st = st or os.lstat(path)
    what = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file where a folder belongs"
            if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode))
    if stat.S_ISLNK(st.st_mode):
        try:
            what += f" to {os.readlink(path)}"
        except OSError:
            pass
    return RunDirError(f"{path} is {what}; a run directory holds only the regular files and "
                       "folders its stages wrote, so nothing there is read or written through "
                       "it: remove it (or the stage's folder, to run the stage again)")


def sha256_tree(root: Path) -> str:
    """sha256 over the relative names and contents of every file under root (no links)."""
    return sha256_json([(rel, sha256_file(root / rel, follow=False)) for rel, _ in scan(root)])


def record_outputs(root: Path) -> list[OutputFile]:
    """The records of every output file in a stage folder, hashed (or remembered)."""
    out = []
    for rel, st in scan(root):
        if rel in NOT_OUTPUTS:
            continue
        out.append(OutputFile(path=rel, size=st.st_size,
                              sha256=sha256_file(root / rel, follow=False),
                              identity=list(_astuple(Identity.of(st)))))
    return out


def changed_outputs(root: Path, recorded: list[OutputFile]) -> tuple[str | None, bool]:
    """(what differs between the stage folder and its record, in words, or None; whether
    the record should be refreshed because files were moved or copied with the same bytes).

    Files whose identity is unchanged keep their recorded hash; the others are hashed again.
    """
    remember(root, recorded)
    now = {rel: st for rel, st in scan(root) if rel not in NOT_OUTPUTS}
    was = {f.path: f for f in recorded}
    missing = [p for p in was if p not in now]
    added = [p for p in now if p not in was]
    if missing:
        return f"{_few(missing)} {'was' if len(missing) == 1 else 'were'} deleted", False
    if added:
        return f"{_few(added)} {'was' if len(added) == 1 else 'were'} added", False
    edited = [p for p, f in was.items()
              if now[p].st_size != f.size or sha256_file(root / p, follow=False) != f.sha256]
    if edited:
        return f"{_few(edited)} {'was' if len(edited) == 1 else 'were'} changed", False
    moved = any(list(_astuple(Identity.of(now[p]))) != f.identity for p, f in was.items())
    return None, moved


def _few(paths: list[str]) -> str:
    shown = ", ".join(paths[:3])
    return shown + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
