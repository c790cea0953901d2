"""Datasets: a plan's prompt files (JSONL, read by constlang.jsonl) as prompt rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from constlang import plan as P
from constlang.jsonl import DataError, read_json_lines
from constlang.source import printable_name

__all__ = ["DataError", "PromptRow", "dataset_path", "read_prompts"]


@dataclass(frozen=True)
class PromptRow:
    index: int  # position in the dataset after `limit`: the row's identity in the run
    prompt_id: str  # the row's "id" key when it has one, else "<dataset>-<index>"
    prompt: str
    tags: frozenset[str] = frozenset()  # the dataset's tags and the row's own `tags` list


def dataset_path(dataset: P.Dataset, base_dir: Path) -> Path:
    """Where the dataset file lives: its path is relative to the constitution directory."""
    path = Path(dataset.path)
    return path if path.is_absolute() else base_dir / path


def read_prompts(dataset: P.Dataset, base_dir: Path, *,
                 limit: int | None = None) -> list[PromptRow]:
    """The dataset's prompts, in file order, at most `dataset.limit` (and `limit`) of them.

    Blank lines are skipped. Raises DataError for a missing file, a malformed line, a row
    without the prompt field (or whose value is not a string) and an empty dataset.
    """
    path = dataset_path(dataset, base_dir)
    if not path.is_file():
        raise DataError(f"dataset `{dataset.id}`: prompt file not found: "
                        f"{printable_name(str(path))}")
    caps = [n for n in (dataset.limit, limit) if n is not None]
    cap = min(caps) if caps else None
    rows: list[PromptRow] = []
    for where, record in read_json_lines(path, limit=cap):
        if dataset.field not in record:
            keys = ", ".join(sorted(record)) or "none"
            raise DataError(f"{where}: no `{dataset.field}` field (dataset `{dataset.id}` "
                            f"reads field `{dataset.field}`; the row has: {keys})")
        value = record[dataset.field]
        if not isinstance(value, str):
            raise DataError(f"{where}: field `{dataset.field}` must be a string, "
                            f"got {type(value).__name__}")
        tags = _row_tags(record, where, dataset.tags)
        ident = record.get("id")
        prompt_id = str(ident) if isinstance(ident, str | int) else f"{dataset.id}-{len(rows)}"
        rows.append(PromptRow(len(rows), prompt_id, value, tags))
    if not rows:
        raise DataError(f"dataset `{dataset.id}`: {printable_name(str(path))} has no prompts")
    return rows


def _row_tags(record: dict, where: str, declared: list[str]) -> frozenset[str]:
    """The dataset's tags plus the row's own `tags` (a list of strings, when present)."""
    own = record.get("tags", [])
    if not isinstance(own, list) or not all(isinstance(t, str) for t in own):
        raise DataError(f"{where}: `tags` must be a list of strings")
    return frozenset(declared).union(own)
