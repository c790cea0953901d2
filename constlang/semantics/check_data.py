"""Check, data files: every dataset's file exists and is a regular file (E207, W002), found
before `train` fails on it. Only the file's status is read, never its contents."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from constlang.declarations import names
from constlang.errors import Diagnostics
from constlang.kinds import SETTINGS_BY_KIND
from constlang.semantics.fields import field_extra, fields_of
from constlang.semantics.paths import display_path, inside, shorten
from constlang.semantics.resolve import Symbol, World
from constlang.source import printable_name


class CheckedDataset(Protocol):
    """What this check reads of a checked declaration (check_declarations.Checked)."""

    symbol: Symbol
    values: dict[str, Any]
    spans: dict[str, Any]
    ok: bool


def dataset_target(world: World, sym: Symbol, raw: str) -> Path:
    """Where a dataset's `path` points, before resolving: relative to its declaring file."""
    module = world.modules.get(sym.module)
    base = module.path.parent if module is not None and module.path else world.root
    return base / Path(raw).expanduser()


def check_data_files(world: World, diags: Diagnostics, datasets: Mapping[str, CheckedDataset],
                     stages: Mapping[str, CheckedDataset]) -> None:
    """Report each dataset whose file is missing or not a regular file: an error (E207) when a
    stage reads it, a warning (W002) when nothing does. Datasets E205 rejected are skipped."""
    readers = _readers(stages)
    for name, checked in datasets.items():
        raw = checked.values.get("path")
        if not checked.ok or not isinstance(raw, str):
            continue
        problem = _file_problem(world, dataset_target(world, checked.symbol, raw))
        if problem is None:
            continue
        message = f"dataset `{name}`: {problem}"
        fix = "point `path` at a JSONL file (one JSON object a line), relative to the file " \
              "that declares the dataset, or create the file"
        reader = readers.get(name)
        if reader is None:
            diags.warning("W002", f"{message} (no stage reads the dataset yet)",
                          checked.spans["path"], fix)
        else:
            diags.error("E207", f"{message}; stage `{reader[0]}` reads it as `{reader[1]}`",
                        checked.spans["path"], fix)


def _readers(stages: Mapping[str, CheckedDataset]) -> dict[str, tuple[str, str]]:
    """Dataset name → (the first stage reading it, the setting that names it)."""
    out: dict[str, tuple[str, str]] = {}
    for stage, checked in stages.items():
        settings = SETTINGS_BY_KIND.get(checked.values.get("kind", ""))
        if settings is None:
            continue
        for setting, info in fields_of(settings).items():
            value = checked.values.get(setting)
            if "dataset" not in str(field_extra(info).get("ref", "")).split("|") or not value:
                continue
            for dataset in names(value):
                out.setdefault(dataset, (stage, setting))
    return out


def _file_problem(world: World, target: Path) -> str | None:
    """What is wrong with a dataset's file, naming the path looked for (relative to the project
    root when inside it); None for a regular file. The final path is stat'ed without following
    links: resolve() already followed them, as E205 does."""
    try:
        real = target.resolve()
    except (OSError, RuntimeError):
        return None  # E205 reported it
    within = inside(real, world.root)  # outside only with --allow-outside-root
    shown = printable_name(shorten(os.path.relpath(real, world.root) if within else str(real)))
    where = f"`{shown}`" + (f" in the project root `{display_path(world.root)}`" if within
                            else "")
    try:
        mode = os.lstat(real).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return f"no file {where}"
    except OSError as exc:
        return f"cannot read the status of {where}: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return f"{where} is a folder, not a file"
    return None if stat.S_ISREG(mode) else f"{where} is not a regular file"
