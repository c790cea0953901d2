"""Checks, the registry: built-in checkers and those installed packages declare.

A package adds a checker with an entry point in the group `constlang.checkers`, whose name
is what a constitution writes (`checker = "acme.pii"`) and whose object is a subclass of
`constlang.checks.Checker`. A constitution only names a checker: it never carries code.
Only the entry points a constitution names are loaded.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from typing import Any

from constlang.checks.base import Checker
from constlang.checks.builtin import BUILTIN
from constlang.errors import UserError

GROUP = "constlang.checkers"


class CheckerError(UserError):
    """A named checker cannot be used: not installed, or not a checker."""


@lru_cache(maxsize=1)
def installed() -> dict[str, metadata.EntryPoint]:
    """The entry points of installed checkers, by name (read from metadata: nothing runs)."""
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def names() -> list[str]:
    """Every checker a constitution can name: built-in ones first."""
    return list(BUILTIN) + sorted(n for n in installed() if n not in BUILTIN)


def checker_class(name: str) -> type[Checker]:
    """The checker called `name`; raises CheckerError when there is none or it is broken."""
    if name in BUILTIN:
        return BUILTIN[name]
    ep = installed().get(name)
    if ep is None:
        raise CheckerError(f"unknown checker `{name}`")
    try:
        cls = ep.load()
    except Exception as exc:  # an installed package failed to import: say which
        raise CheckerError(f"checker `{name}` ({ep.value}) failed to load: "
                           f"{type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Checker)):
        raise CheckerError(f"checker `{name}` ({ep.value}) is not a subclass of "
                           "constlang.checks.Checker")
    return cls


def checker_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """`args` as the checker reads them: validated, with every default filled in."""
    cls = checker_class(name)
    return cls.Args.model_validate(args).model_dump(mode="json", by_alias=True)


def args_schemas() -> dict[str, tuple[str, dict[str, Any]]]:
    """Each built-in checker's arguments as JSON Schema: {checker: ($defs name, schema)}.
    Installed checkers are left out: describing them would mean importing their code."""
    out = {}
    for name, cls in BUILTIN.items():
        schema = cls.Args.model_json_schema(by_alias=True)
        schema["description"] = f"Arguments of the `{name}` checker: {cls.summary}"
        out[name] = (cls.Args.__name__, schema)
    return out
