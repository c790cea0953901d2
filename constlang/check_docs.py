"""Docs: the check declaration's fields and every built-in checker's arguments, generated from
the checker records into docs/checks.md.

Regenerate with `python -m constlang.check_docs --write`; a test fails when the page drifts.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic.fields import FieldInfo

from constlang import declarations as P
from constlang.checks.base import Checker
from constlang.checks.builtin import BUILTIN
from constlang.semantics.fields import fields_of
from constlang.stage_docs import DOCS_DIR, value_type

PATH = DOCS_DIR / "checks.md"
BEGIN = "<!-- checkers:begin (generated: python -m constlang.check_docs --write) -->"
END = "<!-- checkers:end -->"


def type_text(info: FieldInfo) -> str:
    """An argument's type in words, with its bounds."""
    return value_type(info)


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "(required)"
    value: Any = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f'`"{value}"`' if isinstance(value, str) and not value else f"`{value}`"


def argument_line(name: str, info: FieldInfo) -> str:
    """One argument as a Markdown list item (the editor's hover on a checker)."""
    return (f"- `{name}` ({type_text(info)}; default {default_text(info)}): "
            f"{info.description or ''}")


def table(fields: dict[str, FieldInfo], head: str) -> str:
    lines = [f"| {head} | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in fields.items():
        meaning = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {type_text(info)} | {default_text(info)} | {meaning} |")
    return "\n".join(lines)


def checker_section(cls: type[Checker]) -> str:
    args = fields_of(cls.Args, set())
    return (f"### `{cls.name}`\n\n{cls.summary}\n\n"
            + (table(args, "argument") if args else "No arguments."))


def generated_block() -> str:
    common = fields_of(P.Check, {"id", "location", "args"})
    parts = ["Every check has these fields:", "", table(common, "field"), ""]
    parts += [checker_section(cls) + "\n" for cls in BUILTIN.values()]
    return f"{BEGIN}\n" + "\n".join(parts).rstrip("\n") + f"\n{END}"


def page_with_block(text: str) -> str | None:
    """The page with its generated block regenerated; None when it has no block."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[:start] + generated_block() + text[end + len(END):]


def main(argv: list[str]) -> int:
    text = PATH.read_text("utf-8")
    new = page_with_block(text)
    if new is None:
        print(f"{PATH}: no generated block ({BEGIN})", file=sys.stderr)
        return 1
    if new == text:
        return 0
    if "--write" in argv:
        PATH.write_text(new, "utf-8")
        print(f"updated: {PATH}")
        return 0
    print(f"out of date: {PATH} (run python -m constlang.check_docs --write)")
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
