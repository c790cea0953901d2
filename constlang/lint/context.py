"""Context: what a lint rule sees of one compiled file (AST, checked values, plan, comments)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from constlang import plan as P
from constlang.compile import CompileResult
from constlang.embedded import embedded_model
from constlang.kinds import SETTINGS_BY_KIND
from constlang.lint.suppress import Comment, Suppression
from constlang.semantics.check import CheckResult
from constlang.semantics.resolve import LoadedModule, Symbol, World
from constlang.source import SourceText
from constlang.span import Span
from constlang.syntax import ast


@dataclass
class LintContext:
    """One file being linted: the compiler's results for it, reused as they are."""

    result: CompileResult
    entry: LoadedModule
    comments: list[Comment] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    enabled: frozenset[str] = frozenset()  # codes of the rules that run on this file
    known_codes: frozenset[str] = frozenset()  # codes of every registered rule
    not_run: frozenset[str] = frozenset()  # enabled, but skipped: the file did not compile

    def known(self, code: str) -> bool:
        """A code a suppression may name: a lint rule's, or a compiler warning's."""
        return code in self.known_codes or bool(re.fullmatch(r"W[0-9]{3}", code))

    # -- the file ---------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self.entry.source.path

    @property
    def source(self) -> SourceText:
        return self.entry.source

    @property
    def module(self) -> ast.Module:
        return self.entry.module

    @property
    def world(self) -> World:
        assert self.result.world is not None
        return self.result.world

    @property
    def checked(self) -> CheckResult:
        assert self.result.checked is not None
        return self.result.checked

    @property
    def plan(self) -> P.Plan:
        """The plan; only rules with `needs_plan` (the default) may use it."""
        assert self.result.plan is not None
        return self.result.plan

    def in_file(self, span: Span | None) -> bool:
        return span is not None and span.file == self.path

    def declarations(self, kind: str) -> Iterator[ast.Declaration]:
        """This file's own declarations of a kind (overrides included), in source order."""
        for item in self.module.items:
            if isinstance(item, ast.Declaration) and item.kind == kind:
                yield item

    def templates(self) -> Iterator[ast.Template]:
        for item in self.module.items:
            if isinstance(item, ast.Template):
                yield item

    # -- symbols of the whole constitution -------------------------------------------
    def symbol(self, kind: str, name: str) -> Symbol | None:
        return self.world.scope.get(kind, {}).get(name)

    def is_local(self, sym: Symbol) -> bool:
        """Declared or overridden in this file."""
        return sym.module == self.path or any(o.name_span.file == self.path
                                              for o in sym.overridden_by)

    def local_symbols(self, kind: str) -> Iterator[Symbol]:
        for sym in self.world.scope.get(kind, {}).values():
            if self.is_local(sym):
                yield sym

    def name_span(self, sym: Symbol) -> Span:
        """Where to report on a declaration: this file's override of it, else its name."""
        for o in reversed(sym.overridden_by):
            if o.name_span.file == self.path:
                return o.name_span
        return sym.node.name_span

    def field(self, sym: Symbol, name: str) -> ast.Field | None:
        node = sym.node
        return node.field(name) if isinstance(node, ast.Declaration) else None

    def value_span(self, sym: Symbol, name: str) -> Span:
        """The span of a field's value, or the declaration's name when the field is not set."""
        f = self.field(sym, name)
        return f.value.span if f is not None else self.name_span(sym)

    # -- stages -----------------------------------------------------------------------
    def stages(self, *kinds: str) -> list[Any]:
        return [s for s in self.plan.stages if not kinds or s.kind in kinds]

    def stage_symbol(self, stage: Any) -> Symbol:
        sym = self.symbol("stage", stage.name)
        assert sym is not None
        return sym

    def referenced(self, kind: str) -> set[str]:
        """Names of `kind` that some stage setting refers to (defaults and `all` included)."""
        out: set[str] = set()
        for stage in self.plan.stages:
            for attr, info in SETTINGS_BY_KIND[stage.kind].model_fields.items():
                extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
                if kind not in str(extra.get("ref", "")).split("|"):
                    continue
                value = getattr(stage.settings, attr, None)
                if isinstance(value, str):
                    out.add(value)
                elif isinstance(value, list):
                    out.update(v for v in value if isinstance(v, str))
        return out

    def policy_model(self, name: str) -> P.Model | None:
        """The model behind a policy: a model, or the model a training stage starts from."""
        return self.plan.base_model(name)

    def context_window(self, model: P.Model) -> int | None:
        embedded = embedded_model(model.source or "")
        return model.context_length or (embedded.context_length if embedded else None)
