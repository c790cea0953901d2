"""Checks in the editor: a check's fields (common ones and its checker's arguments), hovers
for a check and a checker, and the checkers `checker = ` may name."""

from __future__ import annotations

import re
from collections.abc import Callable

from lsprotocol import types as T
from pydantic.fields import FieldInfo

from constlang import declarations as P
from constlang.checks.builtin import BUILTIN
from constlang.checks.registry import CheckerError, checker_class, installed, names
from constlang.semantics.fields import fields_of
from constlang.syntax import ast

COMMON = fields_of(P.Check, {"id", "location", "args"})
_CHECKER = re.compile(r'(?m)^[^#\n]*?\bchecker\s*=\s*"?([\w.\-]+)')


def checker_word(decl: ast.Declaration | str) -> str | None:
    """The checker a check names: from its AST, or from a block's text while typing."""
    if isinstance(decl, str):
        m = _CHECKER.search(decl)
        return m.group(1) if m else None
    f = decl.field("checker")
    if f is None:
        return None
    return f.value.name if isinstance(f.value, ast.Ref) else (
        f.value.value if isinstance(f.value, ast.Str) else None)


def arguments(word: str | None) -> dict[str, FieldInfo]:
    """The arguments of the named checker, by the name written in a check ({} if unknown)."""
    if not word:
        return {}
    try:
        return fields_of(checker_class(word).Args, set())
    except CheckerError:
        return {}


def check_fields(decl: ast.Declaration | str) -> dict[str, FieldInfo]:
    """Every field a check may set: the common ones, then its checker's arguments."""
    return {**COMMON, **arguments(checker_word(decl))}


def check_markdown(node: ast.Declaration, lines: list[str],
                   text: Callable[[ast.Value], str]) -> str:
    """A check's hover: its checker, scope, weight, description and arguments."""
    fields = {f.name: f for f in node.fields}
    word = checker_word(node) or "?"
    lines[0] += f" · checker `{word}`"
    scope = fields.get("applies_to")
    tags = [v for v in (scope.value.items if scope and isinstance(scope.value, ast.List)
                        else (scope.value,) if scope else ()) if isinstance(v, ast.Str)]
    lines.append("- **scope**: " + ("replies to prompts tagged " + " or ".join(
        f'"{t.value}"' for t in tags) if tags else "every reply"))
    weight = fields.get("weight")
    lines.append(f"- **weight**: {text(weight.value) if weight is not None else '1.0 (default)'}")
    if "description" in fields:
        lines.append(f"- **description**: {text(fields['description'].value)}")
    for name in arguments(word) or [n for n in fields if n not in COMMON]:
        if name in fields:
            lines.append(f"- **{name}**: {text(fields[name].value)}")
    return "\n".join(lines)


def checker_markdown(word: str) -> str:
    """A checker's hover: its summary and arguments (type, default, description)."""
    try:
        cls = checker_class(word)
    except CheckerError as exc:
        return f"**checker `{word}`**\n\n{exc}; checkers: {', '.join(names())}"
    origin = "built-in" if cls.__module__.startswith("constlang.") else \
        f"installed: `{cls.__module__}.{cls.__qualname__}`"
    lines = [f"**checker `{word}`** · {origin}", "", cls.summary, "", "**arguments**:"]
    from constlang.check_docs import argument_line

    lines += [argument_line(name, info) for name, info in arguments(word).items()]
    return "\n".join(lines)


def checker_items() -> list[T.CompletionItem]:
    """The checkers `checker = ` may name: built-in ones with their summary, installed ones
    with their entry point (not loaded: only the checkers a constitution names are)."""
    out = [T.CompletionItem(word, kind=T.CompletionItemKind.EnumMember, detail=cls.summary,
                            documentation=T.MarkupContent(T.MarkupKind.Markdown,
                                                          checker_markdown(word)))
           for word, cls in BUILTIN.items()]
    out += [T.CompletionItem(word, kind=T.CompletionItemKind.EnumMember,
                             detail=f"installed checker · {installed()[word].value}")
            for word in names() if word not in BUILTIN]
    return out
