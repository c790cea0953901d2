"""CLI `rule`: explain a lint rule, or list them all."""

from __future__ import annotations

import re

import click

from constlang.cli.shared import command
from constlang.words import counted


@command("rule", short_help="Explain a lint rule, or list them all.")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
@click.option("--output-format", "--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="text for the terminal, markdown for docs, json for tools.")
def rule(code: str | None, show_all: bool, fmt: str) -> None:
    """Explain a lint rule (by code or name), or list them all with --all."""
    import json

    from constlang.errors import did_you_mean
    from constlang.lint.docs import rule_markdown, rule_table, rule_text
    from constlang.lint.registry import BY_CODE, BY_NAME, RULES, lookup

    if show_all and code is not None:
        raise click.UsageError("give either a rule code or name, or --all, not both")
    if not show_all and code is None:
        raise click.UsageError("give a rule code or name, or --all")
    chosen = list(RULES) if show_all else []
    if code is not None:
        r = lookup(code)
        if r is None and re.fullmatch(r"[EW][0-9]{3}", code.upper()):
            raise click.UsageError(f"`{code}` is a compiler diagnostic, not a lint rule; "
                                   "docs/errors.md explains every compiler code")
        if r is None:
            prefixed = sorted(c for c in BY_CODE if c.startswith(code.upper()))
            if prefixed:
                raise click.UsageError(f"`{code}` is a prefix of {counted(len(prefixed), 'rule')}: "
                                       + ", ".join(prefixed))
            hint = did_you_mean(code, [*BY_CODE, *BY_NAME])
            raise click.UsageError(f"no rule `{code}`" + (f" ({hint})" if hint else ""))
        chosen = [r]
    if fmt == "json":
        click.echo(json.dumps([{
            "code": r.code, "name": r.name, "category": r.category,
            "severity": r.severity.value, "fix": r.fix, "default": r.default,
            "summary": r.summary, "rationale": r.rationale, "bad": r.bad, "good": r.good,
        } for r in chosen], indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo("\n".join(rule_markdown(r) for r in chosen), nl=False)
    elif show_all:
        click.echo(rule_table(chosen), nl=False)
    else:
        click.echo(rule_text(chosen[0]), nl=False)
