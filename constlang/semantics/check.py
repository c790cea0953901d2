"""Check: every check over a resolved world, in order — declarations, templates, the
constitution's header, then the stages (their references, order, programs and selections)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constlang import declarations as P
from constlang.errors import Diagnostics
from constlang.semantics.check_data import check_data_files
from constlang.semantics.check_declarations import Checked, DeclChecker
from constlang.semantics.check_models import check_models, check_secrets, check_served_roles
from constlang.semantics.check_stages import (
    check_programs,
    check_selections,
    check_stage_refs,
    stage_order,
)
from constlang.semantics.fields import fields_of
from constlang.semantics.resolve import Symbol, World
from constlang.semantics.templates import check_template
from constlang.syntax import ast


@dataclass
class CheckResult:
    decls: dict[str, dict[str, Checked]]  # kind → name → checked values
    stage_kinds: dict[str, str]
    stage_order: list[str]
    template_vars: dict[str, set[str]]
    constitution: dict[str, Any]


def check_world(world: World, diags: Diagnostics) -> CheckResult:
    """Run every check over the resolved world, collecting all diagnostics."""
    c = DeclChecker(world, diags)
    decls: dict[str, dict[str, Checked]] = {}
    template_vars: dict[str, set[str]] = {}
    for kind, symbols in world.scope.items():
        if kind == "template":
            for name, sym in symbols.items():
                assert isinstance(sym.node, ast.Template)
                template_vars[name] = check_template(sym.node, diags, _literal(world, sym))
            continue
        decls[kind] = {name: c.check_decl(sym) for name, sym in symbols.items()}
    check_models(c, decls.get("model", {}))
    check_secrets(world, diags)
    constitution: dict[str, Any] = {}
    if world.constitution is not None:
        info = fields_of(P.ConstitutionInfo, {"name"})
        checked = c.check_fields(world.constitution.fields, info, "the constitution",
                                 world.constitution.name.span)
        constitution = dict(checked.values) if checked else {}
        constitution["name"] = world.constitution.name.value
        problem = P.folder_name_problem(world.constitution.name.value)
        if problem:  # the name becomes runs/<name>/: it must be one plain folder name
            diags.error("E114", f"the constitution's name cannot name its run directory "
                        f"(runs/<name>/): {problem}", world.constitution.name.span,
                        'use letters, digits, `.`, `_` and `-`, starting with a letter or '
                        'digit, e.g. `constitution "cai-harmless"`')
    stage_kinds = {n: ch.values["kind"] for n, ch in decls.get("stage", {}).items()
                   if "kind" in ch.values}
    check_stage_refs(c, decls.get("stage", {}), stage_kinds)
    check_served_roles(c, decls.get("stage", {}), decls.get("model", {}))
    order = stage_order(c, decls.get("stage", {}))
    check_programs(c, decls.get("stage", {}), decls.get("question", {}))
    check_selections(c, decls.get("stage", {}))
    check_data_files(world, diags, decls.get("dataset", {}), decls.get("stage", {}))
    if world.constitution is None and decls.get("stage") and world.entry is not None:
        diags.error("E104", "a file with stages needs a `constitution \"name\" { ... }` "
                    "declaration", world.entry.source.span(0, 0),
                    'add `constitution "my-constitution" { version = "0.1.0" }`')
    return CheckResult(decls, stage_kinds, order, template_vars, constitution)


def _literal(world: World, sym: Symbol) -> str | None:
    """The source text between the quotes of a template's body."""
    source = world.source(sym.module)
    span = sym.node.body.span  # type: ignore[union-attr]
    return source.text[span.start + 1:span.end - 1] if source is not None else None
