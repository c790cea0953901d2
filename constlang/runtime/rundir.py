"""Run directory: the layout of `runs/<name>/<stage>/`, manifests, metrics and crash-safe files."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Self, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from constlang.declarations import IDENTIFIER
from constlang.files import (
    FileTooLarge,
    NotRegularFile,
    atomic_write_text,
    open_append_own,
    open_own,
    read_own,
)
from constlang.runtime.hashing import (  # noqa: F401  (re-exported: the run directory's hashes)
    OutputFile,
    RunDirError,
    foreign,
    sha256_file,
    sha256_json,
    sha256_tree,
)

Status = Literal["running", "completed", "failed", "interrupted"]

MANIFEST = "manifest.json"
METRICS = "metrics.jsonl"
MODEL = "model"
TRAINER = "trainer"
MANIFEST_LIMIT = 16 * 1024 * 1024  # bytes; a manifest holds metrics, timings and file records
IDENTIFIER_RE = re.compile(IDENTIFIER.strip("^$"))
STATE_LIMIT = 64 * 1024 * 1024  # bytes of a saved chunk state (a chunk's finished rounds)
LINE_LIMIT = 64 * 1024 * 1024  # bytes of one JSONL row a stage wrote (rows of long replies)


class Manifest(BaseModel):
    """What a stage records about one run of itself; written atomically after every change."""

    model_config = ConfigDict(extra="forbid")

    stage: str
    kind: str
    status: Status
    inputs_hash: str
    plan_hash: str
    outputs_hash: str | None = Field(default=None,
                                     description="Hash of the artifacts, once completed.")
    metrics: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    error: str | None = None
    resources: dict[str, Any] = Field(
        default_factory=dict, description="Where the stage ran: device; on CUDA the GPU and "
        "its peak memory (MiB); for training, the trained weights' dtype, the mixed precision "
        "and the dtype a training forward pass computed in (constlang.runtime.resources).")
    files: list[OutputFile] | None = Field(
        default=None, description="Once completed: every output file's size, hash and "
        "identity, so a skipped stage is checked against what it wrote.")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append complete JSON lines in one write, then flush and fsync them."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not data:
        return
    try:
        fh = open_append_own(path)
    except OSError as exc:
        raise _own_file_error(path, exc) from None
    with fh:
        fh.write(data.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def _own_file_error(path: Path, exc: OSError) -> RunDirError:
    """The one-line error for a run-directory file that is not a regular file of its own."""
    if isinstance(exc, FileTooLarge):
        return RunDirError(f"{path}: larger than {exc.limit:,} bytes, so not a file this "
                           "stage wrote; remove the stage's folder to run it again")
    try:
        if exc.errno == errno.ELOOP or isinstance(exc, NotRegularFile):
            return foreign(path)
    except OSError:
        pass
    return RunDirError(f"cannot use {path}: {exc.strerror or exc}")


def recover_jsonl(path: Path, *, cut: bool = True) -> list[dict[str, Any]]:
    """The complete rows of a JSONL file of this run; a trailing partial line (a killed write)
    is cut off (left in place, and only skipped, without `cut`: a file of another stage is
    read, never written). A row that is not a JSON object, or a file that is a link or a
    FIFO, is a RunDirError naming file and line: the file was damaged, and nothing is
    guessed."""
    try:
        fh = open_own(path, writable=cut)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _own_file_error(path, exc) from None
    rows: list[dict[str, Any]] = []
    with fh:
        good = 0  # bytes of complete lines read so far
        for line_no, raw in enumerate(iter(lambda: fh.readline(LINE_LIMIT + 1), b""), 1):
            if not raw.endswith(b"\n"):
                if len(raw) > LINE_LIMIT:
                    raise RunDirError(f"{path}:{line_no}: a line longer than {LINE_LIMIT:,} "
                                      "bytes, which no stage writes; the file is damaged: "
                                      "remove the stage's folder to run the stage again")
                if cut:
                    fh.truncate(good)  # a write cut short by a kill: the row is redone
                    fh.flush()
                    os.fsync(fh.fileno())
                break
            good += len(raw)
            if raw.strip():
                rows.append(_row(path, line_no, raw))
    return rows


def _row(path: Path, line_no: int, raw: bytes) -> dict[str, Any]:
    try:
        row = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        why = getattr(exc, "msg", None) or type(exc).__name__
        raise RunDirError(f"{path}:{line_no}: not a row this run wrote ({why}); the file is "
                          "damaged: remove the stage's folder to run the stage again") from None
    if not isinstance(row, dict):
        raise RunDirError(f"{path}:{line_no}: not a row this run wrote (a JSON "
                          f"{type(row).__name__}, not an object); the file is damaged: remove "
                          "the stage's folder to run the stage again")
    return row


def process_in_chunks(path: Path, items: Sequence[Any], size: int,
                      process: Callable[[list[Any]], list[dict[str, Any]]], *,
                      on_chunk: Callable[[int, list[dict[str, Any]], float], None] | None = None,
                      on_resume: Callable[[set[int]], None] | None = None,
                      ) -> tuple[list[dict[str, Any]], int]:
    """Turn every item (anything with an `.index`) not yet in the JSONL file at `path` into
    rows, `size` items at a time; returns all rows by index and how many were there before.

    Chunks are fixed by position, so a resumed run chunks alike; each chunk's rows are appended
    in one fsynced write, so a killed run loses at most the chunk in flight, and a rerun cuts a
    partial last line and skips the indices already written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {_index(path, row) for row in recover_jsonl(path)}
    if done and on_resume:
        on_resume(done)
    for n, start in enumerate(range(0, len(items), size)):
        todo = [item for item in items[start:start + size] if item.index not in done]
        if not todo:
            continue
        t0 = time.perf_counter()
        rows = process(todo)
        append_jsonl(path, rows)
        if on_chunk:
            on_chunk(n, rows, time.perf_counter() - t0)
    return sorted(recover_jsonl(path), key=lambda r: r["index"]), len(done)


def logged_number(path: Path, row: dict[str, Any], key: str, *, whole: bool = False) -> float:
    """`row[key]` of a stage's metrics.jsonl at `path`, a number (a whole one with `whole`); a
    RunDirError naming the file when it is absent or not one (metrics.jsonl is a log, not a
    recorded output, so what is read back from it is checked where it is read)."""
    value = row.get(key)
    if type(value) is not int and (whole or type(value) is not float):
        what = f"{str(value)[:40]!r}, not a {'whole ' if whole else ''}number" if key in row \
            else "missing"
        event = f" `{str(row['event'])[:40]}`" if "event" in row else ""
        raise RunDirError(f"{path}: a{event} row whose `{key}` is "
                          f"{what}; the log is damaged: remove it (or the stage's folder, to "
                          "run the stage again)")
    return value


def _index(path: Path, row: dict[str, Any]) -> int:
    index = row.get("index")
    if type(index) is not int:
        raise RunDirError(f"{path}: a row without a whole-number `index` ({str(index)[:40]}), "
                          "so not one this run wrote; the file is damaged: remove the stage's "
                          "folder to run the stage again")
    return index


class MetricsLog:
    """Appends one JSON object a line to a stage's metrics.jsonl, each with a timestamp."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def log(self, **values: Any) -> None:
        append_jsonl(self.path, [{"time": round(time.time(), 3), **values}])

    def drop_after(self, event: str, step: int) -> None:
        """Drop the `event` rows of steps after `step`: the updates a killed run logged after
        its last checkpoint are redone, and logged again, by the resumed run."""
        rows = recover_jsonl(self.path)
        kept = [r for r in rows if not (r.get("event") == event and r.get("step", 0) > step)]
        if len(kept) != len(rows):
            atomic_write_text(self.path, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                 for r in kept), follow=False)


class Artifact:
    """A file or folder inside a stage's folder, declared on a StageDir subclass by the module
    that writes it: `rows = Artifact("rows.jsonl", "what it holds")` reads as a Path."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.__doc__ = doc

    @overload
    def __get__(self, folder: None, owner: type) -> Artifact: ...

    @overload
    def __get__(self, folder: StageDir, owner: type) -> Path: ...

    def __get__(self, folder: StageDir | None, owner: type) -> Path | Artifact:
        return self if folder is None else folder.path / self.name


class StageDir:
    """One stage's folder in the run directory: its manifest, metrics and generic artifacts."""

    def __init__(self, run_dir: Path, stage: str) -> None:
        if not IDENTIFIER_RE.fullmatch(stage):  # the name becomes a folder: one plain component
            raise RunDirError(f"stage name {stage[:60]!r} cannot name a folder of the run "
                              "directory: use letters, digits and `_`")
        self.path = Path(run_dir) / stage
        self.name = stage

    # what several kinds write; each kind's own artifacts are declared in its runner's module,
    # on a subclass of this one
    model = Artifact(MODEL, "Training stages: the model they produce (a transformers directory).")
    trainer = Artifact(TRAINER, "Training stages: the trainer's scratch folder, removed once the "
                       "model is saved.")

    @classmethod
    def of(cls, folder: StageDir) -> Self:
        """The same stage folder, seen with this class's artifacts (a kind's layout)."""
        return cls(folder.path.parent, folder.name)

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def metrics(self) -> MetricsLog:
        return MetricsLog(self.path / METRICS)

    def read_manifest(self) -> Manifest | None:
        """The stage's manifest, or None when the stage never started. A manifest that is
        there but unusable (a link, a FIFO, too large, not a manifest) is a RunDirError: a
        run neither trusts nor silently discards it."""
        path = self.manifest_path
        self.check_folder()  # nothing is read through a stage folder that is a link
        try:
            raw = read_own(path, MANIFEST_LIMIT)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _own_file_error(path, exc) from None
        try:
            return Manifest.model_validate_json(raw)
        except (ValidationError, ValueError):
            raise RunDirError(f"{path}: not a manifest this version of constlang wrote; "
                              f"remove the folder {self.path} to run stage `{self.name}` "
                              "again") from None

    def write_manifest(self, manifest: Manifest) -> None:
        self.check_folder()
        atomic_write_text(self.manifest_path, manifest.model_dump_json(indent=2) + "\n",
                          make_parents=True, follow=False)

    def check_folder(self) -> None:
        """RunDirError unless the stage's folder is absent or a real folder (not a link)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            raise foreign(self.path, st)

    def reset(self) -> None:
        """Remove every artifact of an earlier run whose inputs differ. Only the stage's own
        folder is removed: a link there is refused, and links inside it are removed, never
        followed."""
        self.check_folder()
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)


class RunDir:
    """A run directory, `runs/<name>/` by default: one StageDir a stage."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def stage(self, name: str) -> StageDir:
        return StageDir(self.path, name)
