"""Resolve, paths: the project root, whether a path stays inside a folder, and how paths,
import chains and quoted text are shown in messages."""

from __future__ import annotations

import os
from pathlib import Path

from constlang.source import printable_name

# a folder holding one of these is a project root: imports and datasets stay inside it
ROOT_MARKERS = ("constlang.toml", "pyproject.toml", ".git")


def find_root(entry: Path) -> Path:
    """The project root: the nearest folder holding constlang.toml, pyproject.toml or .git."""
    start = entry.resolve().parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def display_path(path: Path) -> str:
    """The path as messages show it: relative to the working folder when near it, and always
    printable (bytes of a name that are not UTF-8 are shown as \\xNN escapes)."""
    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:
        rel = str(path)
    if rel.startswith(".." + os.sep + ".."):
        rel = str(path)
    return printable_name(rel)


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies in `folder` (both already resolved)."""
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def chain_text(paths: tuple[Path, ...]) -> str:
    """`a.const → b.const → c.const`; a long chain shows its first and last three files."""
    if len(paths) <= 8:
        return " → ".join(display_path(p) for p in paths)
    ends = [display_path(p) for p in (*paths[:3], *paths[-3:])]
    return " → ".join([*ends[:3], f"… ({len(paths) - 6:,} more)", *ends[3:]])


def shorten(text: str, limit: int = 80) -> str:
    """Text to quote in a message: long text keeps its start and end around an ellipsis."""
    return text if len(text) <= limit else text[:limit // 2 - 1] + "…" + text[-(limit // 2):]
