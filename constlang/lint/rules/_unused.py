"""Shared by the unused-* rules (CL102–CL104, CL106, CL107): declarations nobody refers to."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.lint.context import LintContext
from constlang.lint.rule import Finding


def unused(ctx: LintContext, kind: str, verb: str, help: str) -> Iterator[Finding]:
    """A finding for each declaration of `kind` in this file that no stage refers to."""
    if not ctx.plan.stages:
        return  # a library of declarations for other files to use
    used = ctx.referenced(kind)
    for sym in ctx.local_symbols(kind):
        if sym.name not in used:
            yield Finding(f"{kind} `{sym.name}` is not {verb} by any stage",
                          ctx.name_span(sym), help)
