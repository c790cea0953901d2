"""CL601 name-case: a declaration or template parameter whose name is not snake_case."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"_+", "_", s).strip("_").lower() or name.lower()


def check(ctx: LintContext) -> Iterator[Finding]:
    for item in ctx.module.items:
        if isinstance(item, (ast.Declaration, ast.Template)) and not item.override:
            if not SNAKE.fullmatch(item.name):
                yield Finding(f"{item.kind} name `{item.name}` is not snake_case", item.name_span,
                              f"rename it `{snake(item.name)}` (and every reference to it)")
        if isinstance(item, ast.Template):
            for p in item.params:
                if not SNAKE.fullmatch(p.name):
                    yield Finding(f"parameter `{p.name}` of template `{item.name}` is not "
                                  "snake_case", p.span, f"rename it `{snake(p.name)}`")


RULE = Rule(
    code="CL601", name="name-case", category="naming", severity=Severity.WARNING,
    summary="A declaration or template parameter name that is not snake_case.",
    rationale="Names become ids in the plan, keys in run directories and column values in "
    "datasets, and people type them in `--stage` and `--principle` options. One convention "
    "(lower snake_case, like the stage kinds and the prelude templates) keeps them "
    "predictable.",
    bad='''principle NoHarm { critique = "..."  revision = "..." }''',
    good='''principle no_harm { critique = "..."  revision = "..." }''',
    check=check, needs_plan=False,
)
