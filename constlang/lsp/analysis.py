"""Analysis: compile and lint one buffer (open buffers shadow files on disk), and keep the
last good result per document so hover and completion never recompile."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang.compile import CompileResult, compile_path
from constlang.errors import Diagnostic
from constlang.lint.config import ConfigError, LintConfig, find_config, load_config
from constlang.lint.engine import RuleCrash, lint_result
from constlang.lsp.index import SymbolIndex, build_index
from constlang.lsp.positions import LineIndex
from constlang.source import SourceText, const_files_under

MAX_WORKSPACE_FILES = 500  # .const files scanned for references and workspace symbols


@dataclass
class Analysis:
    """One compile of an entry file, with its lint findings and symbol index."""

    path: Path
    text: str
    result: CompileResult
    diagnostics: list[Diagnostic]  # compiler + lint, config and suppressions applied
    index: SymbolIndex | None
    config: LintConfig
    problems: list[str] = field(default_factory=list)  # config or rule failures, for the log
    _costs: Any = None
    _lines: dict[tuple[str, str], LineIndex] = field(default_factory=dict)

    def line_index(self, display: str, encoding: str) -> LineIndex | None:
        """The (cached) line index of one of the world's files."""
        key = (display, encoding)
        if key not in self._lines:
            source = self.sources.get(display)
            if source is None:
                return None
            self._lines[key] = LineIndex(source.text, encoding)
        return self._lines[key]

    @property
    def display(self) -> str | None:
        world = self.result.world
        return world.entry.source.path if world and world.entry else None

    @property
    def sources(self) -> dict[str, SourceText]:
        return self.result.sources

    def source_path(self, display: str) -> Path | None:
        world = self.result.world
        module = world.modules.get(display) if world else None
        return module.path if module else None

    def stage_costs(self) -> dict[str, Any]:
        """Each stage's estimated work, as `constlang plan` prints it (needs a plan)."""
        if self._costs is None:
            from constlang.preview import stage_costs

            plan = self.result.plan
            self._costs = {} if plan is None else {
                c.stage: c for c in stage_costs(plan, self.result.base_dir)}
        return dict(self._costs)


def lint_config_for(path: Path) -> tuple[LintConfig, str | None]:
    """The lint configuration `constlang lint` would use for this file, and any problem."""
    try:
        return load_config(find_config(path.parent if path.parent.exists() else Path.cwd())), None
    except ConfigError as exc:
        return LintConfig(), f"lint configuration ignored: {exc}"


def analyse(path: Path, text: str, overlay: Mapping[Path, str]) -> Analysis:
    """Compile `text` as the file at `path` (other files from `overlay`, else disk), then lint
    it exactly as `constlang lint` would; never raises for bad input."""
    result = compile_path(path, text=text, overlay=overlay)
    config, problem = lint_config_for(path)
    problems = [problem] if problem else []
    diagnostics = result.diagnostics
    if not config.excluded(path):
        try:
            diagnostics = lint_result(path, result, config).diagnostics
        except RuleCrash as exc:
            problems.append(str(exc))
    index = build_index(result.world) if result.world and result.world.entry else None
    return Analysis(path, text, result, diagnostics, index, config, problems)


class Store:
    """Open buffers, the latest analysis of each, and the last one that compiled."""

    def __init__(self) -> None:
        self.buffers: dict[Path, str] = {}
        self.latest: dict[Path, Analysis] = {}
        self.good: dict[Path, Analysis] = {}  # the last analysis whose world was built
        self._disk: dict[Path, tuple[float, Analysis]] = {}  # closed files, by mtime
        self.generation = 0  # bumped on every edit; disk analyses older than it are stale
        self._disk_generation: dict[Path, int] = {}

    def open(self, path: Path, text: str) -> None:
        self.buffers[path] = text
        self.generation += 1

    def close(self, path: Path) -> None:
        self.buffers.pop(path, None)
        self.latest.pop(path, None)
        self.good.pop(path, None)
        self.generation += 1

    def touched(self) -> None:
        """A file changed on disk: forget every analysis read from disk."""
        self.generation += 1
        self._disk.clear()

    def analyse(self, path: Path) -> Analysis:
        """Analyse an open buffer now, and remember the result."""
        a = analyse(path, self.buffers[path], self.buffers)
        self.latest[path] = a
        if a.index is not None:
            self.good[path] = a
        return a

    def current(self, path: Path) -> Analysis | None:
        """The analysis hover and completion use: the last good one, else the latest."""
        return self.good.get(path) or self.latest.get(path)

    def of_file(self, path: Path) -> Analysis | None:
        """An analysis of any file: an open buffer's current one, else one read from disk."""
        if path in self.buffers:
            return self.current(path) or self.analyse(path)
        try:
            mtime = path.stat().st_mtime
            text = SourceText.read(path).text
        except Exception:
            return None
        cached = self._disk.get(path)
        if cached and cached[0] == mtime and self._disk_generation.get(path) == self.generation:
            return cached[1]
        a = analyse(path, text, self.buffers)
        self._disk[path] = (mtime, a)
        self._disk_generation[path] = self.generation
        return a

    def workspace_files(self, roots: list[Path]) -> Iterator[Path]:
        """Open buffers, then the .const files under the workspace roots (bounded)."""
        seen: set[Path] = set()
        for p in self.buffers:
            seen.add(p)
            yield p
        count = 0
        for root in roots:
            for found in const_files_under(root):
                p = found.resolve()
                if p in seen:
                    continue
                seen.add(p)
                count += 1
                if count > MAX_WORKSPACE_FILES:
                    return
                yield p
