"""The package's structure (issue #18): no import cycles between constlang's modules, one error
family that every reported failure derives from, and one class per name.

What counts as an import, for the cycle check: every `import` and `from ... import` in a module,
at the top, inside a function (an import moved into a function to break a cycle only hides it)
and under `if TYPE_CHECKING:` (a cycle of type hints is still two modules that cannot be read
one before the other). Imports kept inside functions so that torch and transformers stay off
the CLI's start path close no cycle, so they pass. Importing `a.b.c` runs `a/b/__init__.py`
too, so it also counts as an import of each package above `a.b.c` that does not hold the
importing module (Python has started those already).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import constlang
from constlang.errors import ConstlangError

PACKAGE = Path(constlang.__file__).resolve().parent
OPTIONAL = {"torch", "transformers", "trl", "accelerate", "datasets", "peft", "pygls", "gguf",
            "matplotlib"}  # the `train` and `lsp` extras

# Exceptions outside the family, and why: none of them reaches a command's user as it is.
OUTSIDE_THE_FAMILY = {
    "constlang.files.NotRegularFile": "an OSError: readers handle it as any unreadable file",
    "constlang.files.FileTooLarge": "an OSError: readers handle it as any unreadable file",
    "constlang.runtime.served.options.NoLogprobs": "a signal inside the served engine; becomes "
    "a ServedError or the declared parse fallback",
    "constlang.jsonl._BadValue": "a signal from the JSON parser's hooks; becomes a DataError",
    "constlang.semantics.sandbox.RenderLimit": "a jinja2 SecurityError, so Jinja stops the "
    "render; becomes a TemplateRenderError",
    "constlang.syntax.builder._TooManyEscapeErrors": "a signal inside the builder; becomes "
    "one diagnostic",
}


# -- the import graph -------------------------------------------------------------------------

def modules(root: Path = PACKAGE, name: str = "constlang") -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module of the package, line) for every import statement of a module,
    wherever it stands, with the packages that importing it runs."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `from pkg.mod import function` → pkg.mod
                name = name.rpartition(".")[0]
            above = name
            while above:
                if above == name or not (package == above or package.startswith(above + ".")):
                    if above != module:
                        yield above, node.lineno
                above = above.rpartition(".")[0]
                while above and above not in known:
                    above = above.rpartition(".")[0]


def import_graph(known: dict[str, Path]) -> dict[str, dict[str, int]]:
    graph: dict[str, dict[str, int]] = {m: {} for m in known}
    for module, path in known.items():
        for target, line in imports(module, path, known):
            graph[module].setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, with an
    explicit stack), each sorted; a module in a cycle is in exactly one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph.get(target, {}))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(component: list[str], graph: dict[str, dict[str, int]],
             known: dict[str, Path]) -> str:
    edges = [f"  {a} → {b} ({known[a].relative_to(PACKAGE.parent)}:{line})"
             for a in component for b, line in graph[a].items() if b in component]
    return "cycle of " + ", ".join(component) + ":\n" + "\n".join(edges)


def test_no_module_of_the_package_is_in_an_import_cycle() -> None:
    known = modules()
    graph = import_graph(known)
    found = cycles(graph)
    assert not found, "\n".join(describe(c, graph, known) for c in found)


def test_the_cycle_check_sees_local_type_checking_relative_and_package_imports(
        tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg import b\n",  # inside a function
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n",
        "c.py": "from pkg.sub.d import g\n",  # runs pkg/sub/__init__.py, which imports c
        "sub/__init__.py": "from pkg import c\n",
        "sub/d.py": "def g(): ...\n",
        "e.py": "from pkg.sub.d import g\n",  # imports its own package's module: no edge to pkg
    }
    for name, text in files.items():
        (root / name).write_text(text, "utf-8")
    known = modules(root, "pkg")
    assert sorted(cycles(import_graph(known))) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub"]]


# -- the error family -------------------------------------------------------------------------

def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class the package defines, by dotted name; importing each module (a
    module that needs an extra that is not installed is left out)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(constlang.__path__, "constlang."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in OPTIONAL:
                continue
            raise
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == info.name):
                found[f"{info.name}.{value.__qualname__}"] = value
    return found


def test_every_exception_of_the_package_is_in_the_family_or_says_why_not() -> None:
    found = exception_classes()
    outside = sorted(name for name, cls in found.items()
                     if not issubclass(cls, ConstlangError) and name not in OUTSIDE_THE_FAMILY)
    assert not outside, f"derive these from constlang.errors.ConstlangError: {outside}"
    for name in OUTSIDE_THE_FAMILY:
        cls = found[name]  # a stale entry is an error too
        assert not issubclass(cls, ConstlangError), f"{name} is in the family now"
        assert "not a ConstlangError" in " ".join((cls.__doc__ or "").split()), name
    assert len(found) >= 25  # the walk saw the whole package


@pytest.mark.parametrize(("name", "status"), [
    ("constlang.errors.UserError", 1), ("constlang.errors.UsageError", 2),
    ("constlang.errors.InternalError", 3), ("constlang.errors.StageError", 1),
    ("constlang.source.SourceError", 1), ("constlang.syntax.format.FormatError", 1),
    ("constlang.semantics.templates.TemplateRenderError", 1),
    ("constlang.lint.config.ConfigError", 2), ("constlang.lint.baseline.BaselineError", 2),
    ("constlang.lint.engine.RuleCrash", 3), ("constlang.runtime.runner.OverrideError", 2),
])
def test_each_error_carries_its_documented_exit_status(name: str, status: int) -> None:
    module, _, cls = name.rpartition(".")
    assert getattr(importlib.import_module(module), cls).exit_code == status


# -- names --------------------------------------------------------------------------------------

def test_no_two_classes_of_the_package_share_a_name() -> None:
    where: dict[str, list[str]] = {}
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(module)
    shared = {name: found for name, found in where.items() if len(found) > 1}
    assert not shared, f"one concept, one definition: {shared}"


# ---------------------------------------------------------------- sizes

MAX_MODULE_LINES = 400  # a module is read in one sitting
MAX_FUNCTION_LINES = 60  # lines of flow: from the first statement after the docstring to the last


def _flow_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def test_no_module_is_longer_than_a_sitting_and_no_function_longer_than_a_screen() -> None:
    long_modules, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text("utf-8")
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and _flow_lines(node) > MAX_FUNCTION_LINES:
                long_functions.append(f"{rel}:{node.lineno} {node.name}: {_flow_lines(node)}")
    assert not long_modules, long_modules
    assert not long_functions, long_functions
