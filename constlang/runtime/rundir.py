"""Run directory: the layout of `runs/<name>/<stage>/`, manifests, metrics and crash-safe files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from constlang.files import atomic_write_text

Status = Literal["running", "completed", "failed", "interrupted"]

MANIFEST = "manifest.json"
METRICS = "metrics.jsonl"
ROWS = "rows.jsonl"
SFT_DATA = "sft.jsonl"
HELPFUL = "helpful.jsonl"
PREFERENCES = "preferences.jsonl"
MODEL = "model"
PARTIAL = "partial.json"
TRAINER = "trainer"


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


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_json(data: Any) -> str:
    """sha256 of the canonical JSON of data."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def sha256_tree(root: Path) -> str:
    """sha256 over the relative names and contents of every file under root."""
    entries = [(p.relative_to(root).as_posix(), sha256_file(p))
               for p in sorted(root.rglob("*")) if p.is_file()]
    return sha256_json(entries)


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append complete JSON lines in one write, then flush and fsync them."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not data:
        return
    with path.open("a", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def recover_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete rows of a JSONL file; a trailing partial line (a killed write) is cut off."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    if end < len(raw):
        with path.open("r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
    return [json.loads(line) for line in raw[:end].decode("utf-8").splitlines() if line.strip()]


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
    done = {row["index"] for row in recover_jsonl(path)}
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


def load_chunk_state(path: Path | None, indices: list[int]) -> dict[str, Any] | None:
    """The saved state of the chunk of these row indices (see StageDir.partial), or None."""
    if path is None or not path.is_file():
        return None
    try:
        state = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    same = isinstance(state, dict) and state.get("indices") == indices
    return state if same else None


def saved_chunk(path: Path) -> tuple[int, int, int] | None:
    """(first index, last index, round) of a saved chunk state, for the resume message."""
    try:
        state = json.loads(path.read_text("utf-8"))
        return state["indices"][0], state["indices"][-1], int(state["round"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def save_chunk_state(path: Path | None, state: dict[str, Any]) -> None:
    """Replace the saved state of the chunk in flight (atomically)."""
    if path is not None:
        atomic_write_text(path, json.dumps(state, ensure_ascii=False), make_parents=True)


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
                                                 for r in kept))


class StageDir:
    """One stage's folder in the run directory, and where each of its artifacts lives."""

    def __init__(self, run_dir: Path, stage: str) -> None:
        self.path = Path(run_dir) / stage
        self.name = stage

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def metrics(self) -> MetricsLog:
        return MetricsLog(self.path / METRICS)

    @property
    def rows(self) -> Path:
        """critique_revision: every prompt's answer, critiques and revisions (JSONL)."""
        return self.path / ROWS

    @property
    def sft_data(self) -> Path:
        """critique_revision: the conversational SFT rows made of the revisions (JSONL)."""
        return self.path / SFT_DATA

    @property
    def helpful(self) -> Path:
        """critique_revision: the first answers to its helpful prompts (JSONL)."""
        return self.path / HELPFUL

    @property
    def preferences(self) -> Path:
        """feedback: the preference pairs with their labels (JSONL)."""
        return self.path / PREFERENCES

    @property
    def partial(self) -> Path:
        """The state of the chunk in flight (e.g. its finished rounds), so an interrupted run
        resumes inside a chunk, not from its start."""
        return self.path / PARTIAL

    @property
    def heldout(self) -> Path:
        """reward_model: the held-out pairs with the trained model's scores (JSONL)."""
        return self.path / "heldout.jsonl"

    @property
    def reliability(self) -> Path:
        """reward_model: the reliability diagram of the held-out pairs (PNG)."""
        return self.path / "reliability.png"

    @property
    def checkpoint(self) -> Path:
        """ppo: the last resumable checkpoint (models, optimizer, RNG and loop state)."""
        return self.path / "checkpoint"

    @property
    def tracking(self) -> Path:
        """ppo: what an experiment tracker (report_to) writes locally, e.g. tensorboard files."""
        return self.path / "tracking"

    @property
    def model(self) -> Path:
        """Training stages: the model they produce (a transformers directory)."""
        return self.path / MODEL

    @property
    def trainer(self) -> Path:
        """Training stages: the trainer's scratch folder, removed once the model is saved."""
        return self.path / TRAINER

    @property
    def replies(self) -> Path:
        """evaluate: every model's reply to every held-out prompt, with its verdict (JSONL)."""
        return self.path / "replies.jsonl"

    @property
    def judgements(self) -> Path:
        """evaluate: the judge's P(candidate better) per prompt and question (JSONL)."""
        return self.path / "judgements.jsonl"

    @property
    def report_json(self) -> Path:
        """evaluate: the figures of every model (JSON)."""
        return self.path / "report.json"

    @property
    def report_md(self) -> Path:
        """evaluate: the report for people: tables, plots, sample replies (Markdown)."""
        return self.path / "report.md"

    def read_manifest(self) -> Manifest | None:
        """The stage's manifest, or None when there is none (or it is unreadable)."""
        try:
            return Manifest.model_validate_json(self.manifest_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def write_manifest(self, manifest: Manifest) -> None:
        atomic_write_text(self.manifest_path, manifest.model_dump_json(indent=2) + "\n",
                          make_parents=True)

    def reset(self) -> None:
        """Remove every artifact of an earlier run whose inputs differ."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)


class RunDir:
    """A run directory, `runs/<name>/` by default: one StageDir a stage."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def stage(self, name: str) -> StageDir:
        return StageDir(self.path, name)
