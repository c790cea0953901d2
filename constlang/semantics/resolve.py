"""Resolve: load imports (relative or std/), apply overrides and drops, build the symbol table."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lark import Token

from constlang.errors import Diagnostics
from constlang.semantics.paths import (
    ROOT_MARKERS,
    chain_text,
    display_path,
    find_root,
    inside,
    shorten,
)
from constlang.source import (
    SourceError,
    SourceText,
    check_text,
    normalize_text,
    utf8_name,
)
from constlang.span import Span
from constlang.suggest import NameIndex
from constlang.syntax import ast
from constlang.syntax.builder import build
from constlang.syntax.parser import parse

STD_DIR = Path(__file__).resolve().parent.parent / "std"
PRELUDE = "std/prelude.const"
LANGUAGE_VERSION = 1
MAX_IMPORT_DEPTH = 1000  # files in one chain of imports (a → b → c ...), the entry file included
KINDS = ("principle", "check", "question", "example", "template", "model", "dataset", "stage")


@dataclass
class Symbol:
    """A declaration visible in the entry file, after overrides were merged into it."""

    node: ast.Declaration | ast.Template
    module: str  # display path of the declaring file
    overridden_by: list[ast.Declaration | ast.Template] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.node.name


Scope = dict[str, dict[str, Symbol]]  # kind → name → symbol, in declaration order


@dataclass
class LoadedModule:
    module: ast.Module
    source: SourceText
    path: Path | None  # where the file is (or, for in-memory text, would be)
    rel: str  # path relative to the project root (or std/NAME)
    comments: tuple[Token, ...]  # the parser's COMMENT tokens, in order; lint reads them


@dataclass
class World:
    """Everything the checker and lowering need: the entry file, its imports and symbols."""

    entry: LoadedModule | None
    root: Path
    modules: dict[str, LoadedModule]  # by display path
    scope: Scope
    constitution: ast.Constitution | None = None
    std_names: set[tuple[str, str]] = field(default_factory=set)  # (kind, name) from std/
    allow_outside_root: bool = False  # imports and dataset files may lie outside `root`

    def source(self, display: str) -> SourceText | None:
        m = self.modules.get(display)
        return m.source if m else None


class Resolver:
    def __init__(self, root: Path, diags: Diagnostics, allow_outside_root: bool = False,
                 overlay: Mapping[Path, str] | None = None):
        self.root = root.resolve()
        self.diags = diags
        self.allow_outside_root = allow_outside_root
        # resolved path → text that stands in for the file on disk (an editor's unsaved buffer)
        self.overlay = overlay or {}
        self.modules: dict[str, LoadedModule] = {}
        self._by_path: dict[Path, LoadedModule | None] = {}
        self._scopes: dict[Path, Scope] = {}

    # -- loading ------------------------------------------------------------------
    def load(self, path: Path, at: Span | None = None, std_name: str | None = None,
             text: str | None = None) -> LoadedModule | None:
        shown = std_name or display_path(path)
        try:
            key = path.resolve() if text is None else path
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
            key = path
            if key in self._by_path:
                return self._by_path[key]
            problem: SourceError | None = SourceError(
                f"cannot read file: {getattr(exc, 'strerror', None) or exc}")
        else:
            if key in self._by_path:
                return self._by_path[key]
            problem = None
            if std_name is None and not utf8_name(self._relative(key)):
                # plans and reports name files in UTF-8: such a name cannot be written down
                problem = SourceError("the file name is not valid UTF-8",
                                      "rename the file with UTF-8 characters only")
            if text is None and key in self.overlay:  # an open editor buffer shadows the disk
                text = self.overlay[key]
        try:
            if problem is not None:
                raise problem
            source = (SourceText(shown, check_text(normalize_text(text))) if text is not None
                      else SourceText.read(path, shown))
        except SourceError as exc:
            span = Span(shown, exc.line, exc.column, exc.line, exc.column + 1) if at is None else at
            self.diags.error("E003", f"{shown}: {exc.message}" if at else exc.message, span,
                             exc.help)
            self._by_path[key] = None
            return None
        tree, comments, errors = parse(source)
        self.diags.extend(errors)
        if tree is None:
            module = ast.Module(shown, None, ())
        else:
            module, errors = build(source, tree)
            self.diags.extend(errors)
        rel = std_name or self._relative(key)
        # In-memory text stands in for the file at `path`: its imports and dataset paths
        # resolve from that file's folder, exactly as if it had been read from disk.
        loaded = LoadedModule(module, source, key if text is None else path.resolve(), rel,
                              tuple(comments))
        self._check_version(module, source)
        self.modules[shown] = loaded
        self._by_path[key] = loaded
        return loaded

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return Path(os.path.relpath(path.resolve(), self.root)).as_posix()

    def _check_version(self, module: ast.Module, source: SourceText) -> None:
        if module.version is None:
            if module.items:
                self.diags.warning("W001", "missing language version header",
                                   source.span(0, 0), "add `constlang 1` as the first line")
        elif module.version.number != LANGUAGE_VERSION:
            self.diags.error("E004", f"language version {module.version.number} is not supported",
                             module.version.span,
                             f"this constlang understands version {LANGUAGE_VERSION}")

    # -- imports --------------------------------------------------------------------
    def import_target(self, imp: ast.Import, importer: LoadedModule) -> tuple[Path, str | None]:
        raw = imp.path.value
        if raw.startswith("std/"):
            return STD_DIR / raw[4:], raw
        base = importer.path.parent if importer.path else self.root
        return (base / raw), None

    def scope_of(self, loaded: LoadedModule, stack: tuple[Path, ...]) -> Scope:
        """The scope a file sees: its imports' scopes merged, then its own items applied.

        Imports are followed depth-first with an explicit stack of generators (one per file
        being resolved, see _scope_steps) instead of recursion, so a long chain of imports
        never reaches Python's recursion limit; MAX_IMPORT_DEPTH bounds it instead (E206)."""
        walks = [self._scope_steps(loaded, stack)]
        answer: Scope | None = None  # the scope the walk on top is sent (none: it starts)
        while True:
            walk = walks[-1]
            try:
                sub, sub_stack = next(walk) if answer is None else walk.send(answer)
            except StopIteration as done:
                walks.pop()
                answer = done.value
                if not walks:
                    return answer
                continue
            walks.append(self._scope_steps(sub, sub_stack))
            answer = None

    def _scope_steps(self, loaded: LoadedModule, stack: tuple[Path, ...]
                     ) -> Generator[tuple[LoadedModule, tuple[Path, ...]], Scope, Scope]:
        """Resolve one file: yields each imported file (with the chain that reaches it) and
        is sent back that file's scope; returns this file's scope."""
        key = loaded.path or Path(loaded.source.path)
        if key in self._scopes:
            return self._scopes[key]
        scope: Scope = {k: {} for k in KINDS}
        for imp in loaded.module.of(ast.Import):
            found = self._imported(imp, loaded, stack)
            if found is not None:
                sub, resolved = found
                self._merge(imp, (yield sub, stack + (resolved,)), scope)
        self._apply_items(loaded, scope)
        self._scopes[key] = scope
        return scope

    def _imported(self, imp: ast.Import, loaded: LoadedModule, stack: tuple[Path, ...]
                  ) -> tuple[LoadedModule, Path] | None:
        """The file an import names, loaded, and its resolved path; None (with a diagnostic)
        when the import is refused or the file cannot be read."""
        raw = imp.path.value
        if "\x00" in raw:
            self.diags.error("E201", "the import path contains a NUL character", imp.path.span,
                             "remove the `\\u0000` from the path")
            return None
        target, std_name = self.import_target(imp, loaded)
        if not raw.endswith(".const"):
            self.diags.error("E201", f"cannot import `{shorten(raw)}`: imports name .const "
                             "files", imp.path.span)
            return None
        try:
            resolved = target.resolve()
            is_dir, is_file = resolved.is_dir(), resolved.is_file()
        except (OSError, RuntimeError, ValueError) as exc:  # too long, a symlink loop, ...
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self.diags.error("E201", f"cannot import `{shorten(raw)}`: {reason}", imp.path.span)
            return None
        # the resolved path decides, for std/ too: `std/../..` and symlinks cannot climb out
        if std_name is not None and not inside(resolved, STD_DIR.resolve()):
            self.diags.error("E203", f"import `{shorten(raw)}` reaches outside the std library",
                             imp.path.span, "std/ imports name files of the bundled library, "
                             "such as std/helpful.const")
            return None
        if std_name is None and not self.allow_outside_root and not inside(resolved,
                                                                             self.root):
            marked = any((self.root / m).exists() for m in ROOT_MARKERS)
            outside = ("move the file into the project, or pass --allow-outside-root if you "
                       "trust it") if marked else (
                "no constlang.toml, pyproject.toml or .git was found above the file, so "
                "its own folder is the project root; put an empty constlang.toml at the "
                "top of the project, or pass --allow-outside-root")
            self.diags.error("E203", f"import `{shorten(raw)}` reaches outside the project root "
                             f"`{display_path(self.root)}`", imp.path.span, outside)
            return None
        if is_dir:
            self.diags.error("E201", f"cannot import `{shorten(raw)}`: it is a directory",
                             imp.path.span, "import the .const files inside it one by one")
            return None
        if not is_file and resolved not in self.overlay:
            help_ = None
            if std_name:
                names = sorted(p.name for p in STD_DIR.glob("*.const"))
                help_ = "the std library has: " + ", ".join(f"std/{n}" for n in names)
            self.diags.error("E201", f"imported file `{shorten(raw)}` not found", imp.path.span,
                             help_)
            return None
        if resolved in stack:
            loop = stack[stack.index(resolved):] + (resolved,)
            self.diags.error("E202", "import cycle: " + chain_text(loop), imp.path.span,
                             "remove one of these imports")
            return None
        if len(stack) >= MAX_IMPORT_DEPTH:
            self.diags.error("E206", f"import chain deeper than {MAX_IMPORT_DEPTH:,} files: "
                             + chain_text((*stack, resolved)), imp.path.span,
                             "import the files at the end of the chain from a file nearer its "
                             "start, or merge some of the files")
            return None
        sub = self.load(target, imp.path.span, std_name)
        return None if sub is None else (sub, resolved)

    def _merge(self, imp: ast.Import, sub_scope: Scope, scope: Scope) -> None:
        """Add an imported file's scope to the importer's; a clash is E204."""
        for kind, symbols in sub_scope.items():
            for name, sym in symbols.items():
                have = scope[kind].get(name)
                if have is not None and have is not sym:
                    self.diags.error(
                        "E204", f"{kind} `{name}` is defined by two imports "
                        f"({have.module} and {sym.module})", imp.path.span,
                        "rename it in one of the two files, or import only one of them "
                        "(a later `drop` cannot settle the clash)")
                    continue
                scope[kind][name] = sym

    def _apply_items(self, loaded: LoadedModule, scope: Scope) -> None:
        local: dict[tuple[str, str], Span] = {}
        indexes: dict[str, NameIndex] = {}  # per kind, built on the first misspelling

        def near(name: str, kind: str) -> str | None:
            """The imported name of this kind `name` may mean (an override or drop names
            what was imported, so one index per kind serves the whole file)."""
            from constlang.errors import did_you_mean

            if kind not in indexes:
                indexes[kind] = NameIndex(scope[kind])
            return did_you_mean(name, indexes[kind])

        for item in loaded.module.items:
            if isinstance(item, (ast.Declaration, ast.Template)):
                kind = item.kind
                existing = scope[kind].get(item.name)
                if item.override:
                    if existing is None:
                        self.diags.error("E110", f"`override {kind} {item.name}`: no imported "
                                         f"{kind} is called `{item.name}`", item.name_span,
                                         near(item.name, kind) or
                                         f"remove `override` to declare a new {kind}")
                        continue
                    scope[kind][item.name] = _merged(existing, item, loaded.source.path)
                    local[(kind, item.name)] = item.name_span
                    continue
                if (kind, item.name) in local:
                    first = local[(kind, item.name)]
                    self.diags.error("E102", f"{kind} `{item.name}` is declared twice",
                                     item.name_span,
                                     f"the first declaration is on line {first.line}; "
                                     "rename or remove one")
                    continue
                if existing is not None:
                    self.diags.error("E102", f"{kind} `{item.name}` is already imported from "
                                     f"{existing.module}", item.name_span,
                                     f"write `override {kind} {item.name} {{ ... }}` to change it, "
                                     "or choose another name")
                    continue
                scope[kind][item.name] = Symbol(item, loaded.source.path)
                local[(kind, item.name)] = item.name_span
            elif isinstance(item, ast.Drop):
                if item.name not in scope[item.kind]:
                    if item.kind == "template" and item.name in prelude_templates():
                        self.diags.error("E110", f"`drop template {item.name}`: prelude "
                                         "templates cannot be dropped", item.name_span,
                                         f"declare `template {item.name}(...)` to replace it")
                    else:
                        self.diags.error("E110", f"`drop {item.kind} {item.name}`: no "
                                         f"{item.kind} is called `{item.name}`", item.name_span,
                                         near(item.name, item.kind))
                    continue
                del scope[item.kind][item.name]


@functools.lru_cache(maxsize=1)
def prelude_templates() -> frozenset[str]:
    """Names of the templates every constitution sees from std/prelude.const."""
    text = (STD_DIR / "prelude.const").read_text(encoding="utf-8")
    return frozenset(re.findall(r"(?m)^template\s+([A-Za-z_][A-Za-z0-9_]*)", text))




def _merged(base: Symbol, item: ast.Declaration | ast.Template, module: str) -> Symbol:
    """An override replaces the fields it names and keeps the others (a template is replaced)."""
    if isinstance(item, ast.Template) or isinstance(base.node, ast.Template):
        return Symbol(item, module, base.overridden_by + [base.node])
    assert isinstance(base.node, ast.Declaration)
    names = {f.name for f in item.fields}
    fields = tuple(f for f in base.node.fields if f.name not in names) + item.fields
    node = replace(base.node, fields=fields, override=False)
    return Symbol(node, base.module, base.overridden_by + [item])


def resolve(entry: Path, diags: Diagnostics, *, allow_outside_root: bool = False,
            text: str | None = None, root: Path | None = None,
            overlay: Mapping[Path, str] | None = None) -> World:
    """Load the entry file and everything it imports into one World; a file whose resolved
    path is in `overlay` is read from there instead of from disk."""
    try:
        root = (root or find_root(entry)).resolve()
    except (OSError, RuntimeError):  # the entry is a symlink loop: load() reports it
        root = entry.parent.absolute()
    r = Resolver(root, diags, allow_outside_root, overlay)
    loaded = r.load(entry, text=text)
    scope: Scope = {k: {} for k in KINDS}
    world = World(loaded, root, r.modules, scope, allow_outside_root=allow_outside_root)
    if loaded is None:
        return world
    start = loaded.path or entry
    scope = r.scope_of(loaded, (start.resolve() if loaded.path else start,))
    prelude = r.load(STD_DIR / "prelude.const", None, PRELUDE)
    if prelude is not None:
        for name, sym in r.scope_of(prelude, ()).get("template", {}).items():
            scope["template"].setdefault(name, sym)
    world.scope = scope
    world.std_names = {(k, n) for k, syms in scope.items() for n, s in syms.items()
                       if s.module.startswith("std/")}
    headers = loaded.module.of(ast.Constitution)
    for extra in headers[1:]:
        diags.error("E102", "a file declares one constitution", extra.span,
                    f"the first is on line {headers[0].span.line}")
    world.constitution = headers[0] if headers else None
    return world


def file_hash(source: SourceText) -> str:
    return hashlib.sha256(source.text.encode("utf-8")).hexdigest()
