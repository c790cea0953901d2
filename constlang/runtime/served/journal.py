"""Runtime, served models: a journal of answers, one JSON line each, written as it arrives, so
that a stage interrupted mid-call resumes without asking the server again for finished rows.

An entry is keyed by a hash of everything that decides the answer (endpoint, served model, API
path and request body, seed included); a changed request misses and is asked again. A torn last
line (the process killed mid-write) is ignored."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

MAX_JOURNAL_BYTES = 1 << 30  # a journal longer than this is not read back (asked again)


def request_key(endpoint: str, model: str, path: str, body: dict[str, Any]) -> str:
    """The key of one request: a hash of what decides its answer."""
    text = json.dumps([endpoint, model, path, body], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Journal:
    """Answers by request key, read from `path` when it exists and appended to as they come.
    With `path=None` nothing is written (a one-off call outside a stage). The file is read at
    the first lookup, not before: a stage reset between loading and running starts empty."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.answers: dict[str, Any] = {}
        self.reused = 0  # answers read back instead of asked again
        self._file: IO[str] | None = None
        self._read = path is None

    def _load(self) -> None:
        self._read = True
        path = self.path
        # a link or a special file is not read (a journal is the stage's own regular file)
        if path is None or path.is_symlink() or path.parent.is_symlink() or not path.is_file() \
                or path.stat().st_size > MAX_JOURNAL_BYTES:
            return
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a torn line
                if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                    self.answers[entry["key"]] = entry.get("answer")

    def get(self, key: str) -> Any | None:
        if not self._read:
            self._load()
        answer = self.answers.get(key)
        if answer is not None:
            self.reused += 1
        return answer

    def put(self, key: str, answer: Any) -> None:
        """Record one answer, flushed to the file before returning."""
        if not self._read:
            self._load()
        self.answers[key] = answer
        if self.path is None:
            return
        if self._file is None:
            _make_room(self.path)
            torn = self.path.is_file() and not _ends_in_newline(self.path)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                         0o644)
            self._file = open(fd, "a", encoding="utf-8")
            if torn:  # end the torn line, so it does not swallow the next entry
                self._file.write("\n")
        self._file.write(json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def _ends_in_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _make_room(path: Path) -> None:
    """A real folder for the journal, and nothing at its path but a regular file: a link (to
    anywhere) or a special file (a FIFO would block) in their place is removed, never
    followed."""
    parent = path.parent
    if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
        parent.unlink()
    parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        path.unlink()
