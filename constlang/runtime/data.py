"""Datasets: reading a plan's prompt files (JSONL), with one-line errors that name the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.errors import UserError
from constlang.files import open_regular


class DataError(UserError):
    """A dataset cannot be read; the message is one line, with the file and line number."""


@dataclass(frozen=True)
class PromptRow:
    index: int  # position in the dataset after `limit`: the row's identity in the run
    prompt_id: str  # the row's "id" key when it has one, else "<dataset>-<index>"
    prompt: str


def dataset_path(dataset: P.Dataset, base_dir: Path) -> Path:
    """Where the dataset file lives: its path is relative to the constitution directory."""
    path = Path(dataset.path)
    return path if path.is_absolute() else base_dir / path


def json_objects(path: Path, limit: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, object) for each non-blank line of a JSONL file, at most `limit`; a
    DataError naming file:line for a line that is not JSON or not a JSON object."""
    count = 0
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        for line_no, raw in enumerate(fh, start=1):
            if limit is not None and count >= limit:
                return
            where = f"{path}:{line_no}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                                f"column {exc.start + 1})") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                line.encode("utf-8")
                json.dumps(record, ensure_ascii=False).encode("utf-8")
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: malformed JSON ({exc.msg}, column {exc.colno})"
                                ) from None
            except UnicodeEncodeError:
                raise DataError(f"{where}: a string holds a lone surrogate (such as "
                                "\\ud800), which is not text") from None
            except RecursionError:
                raise DataError(f"{where}: JSON nested too deeply") from None
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
            count += 1
            yield where, record


def read_prompts(dataset: P.Dataset, base_dir: Path, *,
                 limit: int | None = None) -> list[PromptRow]:
    """The dataset's prompts, in file order, at most `dataset.limit` (and `limit`) of them.

    Blank lines are skipped. Raises DataError for a missing file, a malformed line, a row
    without the prompt field (or whose value is not a string) and an empty dataset.
    """
    path = dataset_path(dataset, base_dir)
    if not path.is_file():
        raise DataError(f"dataset `{dataset.id}`: prompt file not found: {path}")
    caps = [n for n in (dataset.limit, limit) if n is not None]
    cap = min(caps) if caps else None
    rows: list[PromptRow] = []
    for where, record in json_objects(path, cap):
        if dataset.field not in record:
            keys = ", ".join(sorted(record)) or "none"
            raise DataError(f"{where}: no `{dataset.field}` field (dataset `{dataset.id}` "
                            f"reads field `{dataset.field}`; the row has: {keys})")
        value = record[dataset.field]
        if not isinstance(value, str):
            raise DataError(f"{where}: field `{dataset.field}` must be a string, "
                            f"got {type(value).__name__}")
        ident = record.get("id")
        prompt_id = str(ident) if isinstance(ident, str | int) else f"{dataset.id}-{len(rows)}"
        rows.append(PromptRow(len(rows), prompt_id, value))
    if not rows:
        raise DataError(f"dataset `{dataset.id}`: {path} has no prompts")
    return rows
