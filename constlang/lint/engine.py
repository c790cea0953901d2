"""Engine: compile each file once, run the enabled rules over the result, then apply
configuration, inline suppressions and the baseline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from constlang.compile import CompileResult, compile_path
from constlang.errors import Diagnostic, Fix, InternalError, Severity
from constlang.lint.config import (
    LintConfig,
    enabled_rules,
    ignored_compiler_codes,
    severity_of,
)
from constlang.lint.context import LintContext
from constlang.lint.registry import RULES
from constlang.lint.rule import Rule
from constlang.lint.suppress import apply_suppressions, comments_from_tokens, parse_suppressions
from constlang.source import SourceText


class RuleCrash(InternalError):
    """A rule raised: a bug in constlang, reported with the rule and the file."""


@dataclass
class FileLint:
    """The findings of one linted file (its compiler diagnostics included)."""

    path: Path
    display: str
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceText] = field(default_factory=dict)
    compiled: bool = True


@dataclass
class LintReport:
    files: list[FileLint]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every file's findings, sorted, each once (an imported file's errors repeat)."""
        merged = dict.fromkeys(d for f in self.files for d in f.diagnostics)
        return sorted(merged, key=Diagnostic.sort_key)

    @property
    def sources(self) -> dict[str, SourceText]:
        out: dict[str, SourceText] = {}
        for f in self.files:
            out.update(f.sources)
        return out


def lint_file(path: Path, config: LintConfig, rules: Sequence[Rule] = RULES, *,
              allow_outside_root: bool = False) -> FileLint:
    """Lint one file: its compiler diagnostics, then every enabled rule's findings."""
    result = compile_path(path, allow_outside_root=allow_outside_root)
    return lint_result(path, result, config, rules)


def lint_result(path: Path, result: CompileResult, config: LintConfig,
                rules: Sequence[Rule] = RULES) -> FileLint:
    """Lint a file from its compile result (the compiler's work is reused, never redone)."""
    file_ignores = config.ignored_for(path)
    silenced = ignored_compiler_codes(config, file_ignores)
    compiler = [d for d in result.diagnostics
                if d.severity is Severity.ERROR or d.code not in silenced]
    world = result.world
    if world is None or world.entry is None:
        return FileLint(path, str(path), compiler, result.sources, False)
    entry = world.entry
    active = enabled_rules(config, rules, file_ignores)
    comments = comments_from_tokens(entry.source, entry.comments)
    ctx = LintContext(result, entry, comments,
                      parse_suppressions(comments, entry.source, entry.module),
                      frozenset(r.code for r in active), frozenset(r.code for r in rules),
                      not_run=frozenset(r.code for r in active
                                        if r.needs_plan and result.plan is None))
    findings = _run(ctx, [r for r in active if not r.after_suppression], config, rules)
    suppressible = [d for d in compiler if d.severity is not Severity.ERROR
                    and d.span is not None and d.span.file == ctx.path]
    kept = apply_suppressions(findings + suppressible, ctx.suppressions)
    late = _run(ctx, [r for r in active if r.after_suppression], config, rules)
    kept += apply_suppressions(late, ctx.suppressions)
    others = [d for d in compiler if d not in suppressible]
    diagnostics = sorted(dict.fromkeys(others + kept), key=Diagnostic.sort_key)
    return FileLint(path, ctx.path, diagnostics, result.sources, result.plan is not None)


def _run(ctx: LintContext, rules: Iterable[Rule], config: LintConfig,
         registry: Sequence[Rule]) -> list[Diagnostic]:
    out = []
    compiled = ctx.result.plan is not None
    for rule in rules:
        if rule.needs_plan and not compiled:
            continue
        severity = severity_of(rule, config, registry)
        try:
            for f in rule.check(ctx):
                if ctx.in_file(f.span):
                    out.append(Diagnostic(rule.code, severity, f.message, f.span, f.help,
                                          _declared_safety(rule, f.fix)))
        except Exception as exc:  # a bug in a rule: say which, and where
            raise RuleCrash(f"rule {rule.code} ({rule.name}) failed on {ctx.path}: "
                            f"{type(exc).__name__}: {exc}") from exc
    return out


def _declared_safety(rule: Rule, fix: Fix | None) -> Fix | None:
    """A fix is safe only when its rule is declared with safe fixes (a rule that forgets
    `safe=False` on an unsafe fix cannot have it applied by a plain --fix)."""
    if fix is not None and fix.safe and rule.fix != "safe":
        return replace(fix, safe=False)
    return fix


def lint_paths(paths: Sequence[Path], config: LintConfig, rules: Sequence[Rule] = RULES, *,
               allow_outside_root: bool = False) -> LintReport:
    """Lint each file (config `exclude` applied)."""
    return LintReport([lint_file(p, config, rules, allow_outside_root=allow_outside_root)
                       for p in paths if not config.excluded(p)])


def at_or_above(diagnostics: Iterable[Diagnostic], level: Severity) -> bool:
    return any(d.severity.rank >= level.rank for d in diagnostics)
