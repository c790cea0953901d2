"""Templates: the Jinja sandbox, compile-time variable and safety checks, and rendering."""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from constlang.errors import Diagnostics
from constlang.source import Span
from constlang.syntax import ast


class TemplateRenderError(Exception):
    """A template failed to render (undefined variable, sandbox violation, runtime error)."""


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The one environment every template is checked and rendered in."""
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, variables: dict[str, Any]) -> str:
    """Render template source with exactly these variables, inside the sandbox."""
    try:
        return str(_compiled(source).render(**variables)).strip() + "\n"
    except SecurityError as exc:
        raise TemplateRenderError(f"blocked by the template sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateRenderError(f"undefined value: {exc}") from None
    except TemplateError as exc:
        raise TemplateRenderError(str(exc)) from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from None


def _locate(body: ast.Str, lineno: int, needle: str, lines: list[str]) -> Span:
    """Map a line of the template text (1-based) and a word on it back into the .const file."""
    line = max(1, lineno)
    text_line = lines[line - 1] if line - 1 < len(lines) else ""
    col_in_text = 0
    if needle:
        m = re.search(r"(?<![A-Za-z0-9_])" + re.escape(needle) + r"(?![A-Za-z0-9_])", text_line)
        col_in_text = m.start() if m else 0
    span = body.span
    if body.long:
        file_line = body.body_line + line - 1
        column = body.body_indent + col_in_text + 1
    else:
        file_line = span.line
        column = span.column + 1 + col_in_text  # past the opening quote
    width = max(1, len(needle))
    return Span(span.file, file_line, column, file_line, column + width, span.start, span.end)


def check_template(tpl: ast.Template, diags: Diagnostics) -> set[str]:
    """Check a template declaration; returns the variables its text uses."""
    source = tpl.body.value
    lines = source.split("\n")
    declared = [p.name for p in tpl.params]
    seen: set[str] = set()
    for p in tpl.params:
        if p.name in seen:
            diags.error("E305", f"parameter `{p.name}` is declared twice", p.span,
                        "remove the second one")
        seen.add(p.name)
    try:
        parsed = environment().parse(source)
    except TemplateSyntaxError as exc:
        diags.error("E301", f"template `{tpl.name}` has a Jinja syntax error: {exc.message}",
                    _locate(tpl.body, exc.lineno or 1, "", lines),
                    "see https://jinja.palletsprojects.com/templates/ for the template syntax")
        return set()
    used = set(meta.find_undeclared_variables(parsed))
    first_line: dict[str, int] = {}
    for node in parsed.find_all(nodes.Name):
        first_line.setdefault(node.name, node.lineno)
    for name in sorted(used - set(declared), key=lambda n: first_line.get(n, 0)):
        params = ", ".join(declared + [name])
        help_ = f"add `{name}` to the parameters: template {tpl.name}({params})"
        diags.error("E302",
                    f"template `{tpl.name}` uses `{name}`, which is not a declared parameter",
                    _locate(tpl.body, first_line.get(name, 1), name, lines), help_)
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        attr = None
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = node.arg.value if isinstance(node.arg.value, str) else None
        elif isinstance(node, nodes.Name) and node.name.startswith("_"):
            attr = node.name
        if attr is not None and attr.startswith("_"):
            diags.error("E304", f"template `{tpl.name}` reaches for `{attr}`; names starting with "
                        "`_` are Python internals and are not allowed in templates",
                        _locate(tpl.body, node.lineno, attr, lines),
                        "use only the fields of the declared parameters")
    return used
