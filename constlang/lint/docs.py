"""Docs: a rule's documentation as terminal text or Markdown, and docs/lint.md from the
registry (regenerate with `python -m constlang.lint.registry --write-docs`)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from constlang.lint.rule import CATEGORIES, Rule

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "lint.md"
GUIDE_PATH = Path(__file__).resolve().parent / "guide.md"


def _fix_words(rule: Rule) -> str:
    return {"safe": "safe fix (--fix)", "unsafe": "unsafe fix (--fix --unsafe-fixes)",
            None: "no automatic fix"}[rule.fix]


def rule_text(rule: Rule) -> str:
    """What `constlang rule CODE` prints."""
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    state = "enabled by default" if rule.default else "off by default (select it to enable)"
    lines = [
        f"{rule.code} {rule.name}",
        f"  category: {rule.category} · default severity: {rule.severity.value} · "
        f"{_fix_words(rule)} · {state}",
        "",
        *wrap.wrap(rule.summary),
        "",
        "Why",
        *wrap.wrap(rule.rationale),
        "",
        "Bad",
        *("    " + line for line in rule.bad.splitlines()),
        "",
        "Good",
        *("    " + line for line in rule.good.splitlines()),
        "",
        f"Suppress one finding with `# constlang: ignore[{rule.code}]`.",
    ]
    return "\n".join(lines) + "\n"


def rule_markdown(rule: Rule, level: str = "###") -> str:
    state = "yes" if rule.default else "no (select it to enable)"
    return "\n".join([
        f"{level} {rule.code} `{rule.name}`",
        "",
        f"*Category:* {rule.category} · *default severity:* {rule.severity.value} · "
        f"*fix:* {_fix_words(rule)} · *enabled by default:* {state}",
        "",
        rule.summary,
        "",
        rule.rationale,
        "",
        "Bad:",
        "",
        "```",
        rule.bad,
        "```",
        "",
        "Good:",
        "",
        "```",
        rule.good,
        "```",
        "",
    ])


def rule_table(rules: Sequence[Rule]) -> str:
    """What `constlang rule --all` prints: one line a rule."""
    width = max(len(r.name) for r in rules)
    lines = [f"{'code':<6} {'name':<{width}} {'category':<11} {'severity':<8} fix"]
    for r in rules:
        fix = r.fix or "-"
        off = "" if r.default else "  (off by default)"
        lines.append(f"{r.code:<6} {r.name:<{width}} {r.category:<11} {r.severity.value:<8} "
                     f"{fix}{off}")
    return "\n".join(lines) + "\n"


def render_docs(rules: Sequence[Rule]) -> str:
    """The whole of docs/lint.md: the guide, an index of the rules, then each rule (`rules`
    is the registry's list, in its order)."""
    out = [GUIDE_PATH.read_text(encoding="utf-8").rstrip("\n"), "", "## Rules", ""]
    out += ["| Code | Name | Category | Severity | Fix |", "| --- | --- | --- | --- | --- |"]
    for r in rules:
        out.append(f"| [{r.code}](#{r.code.lower()}-{r.name}) | `{r.name}` | {r.category} | "
                   f"{r.severity.value} | {r.fix or '-'} |")
    out.append("")
    for category, (prefix, about) in CATEGORIES.items():
        members = [r for r in rules if r.category == category]
        if not members:
            continue
        out += [f"## {category.capitalize()} ({prefix}xx)", "", about, ""]
        out += [rule_markdown(r) for r in members]
    return "\n".join(out).rstrip("\n") + "\n"
