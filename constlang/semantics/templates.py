"""Templates: the Jinja sandbox, compile-time variable and safety checks, and rendering."""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

from constlang.errors import Diagnostics, UserError, did_you_mean
from constlang.semantics.sandbox import (  # noqa: F401  (environment: re-exported)
    MAX_POWER_BITS,
    TEMPLATE_GLOBALS,
    environment,
    render_bounded,
)
from constlang.span import Span
from constlang.syntax import ast

# Filters that read an attribute named by a string argument; `_` names are refused there too.
ATTRIBUTE_FILTERS = frozenset({"attr", "map", "selectattr", "rejectattr", "groupby", "sort",
                               "sum", "unique", "min", "max"})
# Names that hold no plain value: printing one would show a Python object, so check refuses it
UNPRINTABLE = ("self", "loop", "caller", "varargs", "kwargs", *TEMPLATE_GLOBALS)


# The fields of the objects the runtime passes to templates (preview.*_vars builds them).
PRINCIPLE_FIELDS = ("id", "critique", "revision", "tags")
QUESTION_FIELDS = ("id", "text", "kind", "options", "good_answer")
EXAMPLE_FIELDS = ("id", "prompt", "response", "critique_request", "critique", "revision_request",
                  "revision", "worse")
OBJECT_FIELDS = {"principle": PRINCIPLE_FIELDS, "question": QUESTION_FIELDS,
                 "example": EXAMPLE_FIELDS}


class TemplateRenderError(UserError):
    """A template failed to render (undefined variable, sandbox violation, runtime error);
    `line` is the line of the template's text where it failed, when known, and `template`
    and `step` say which template and program step, once a caller knows them."""

    def __init__(self, reason: str, line: int | None = None, template: str | None = None,
                 step: str | None = None) -> None:
        self.reason, self.line, self.template, self.step = reason, line, template, step
        who = f"template `{template}` ({step} step), " if template and step else \
            f"template `{template}`, " if template else ""
        where = f"line {line} of the template: " if line is not None else ""
        super().__init__(who + where + reason)


def file_line(body: ast.Str, line: int) -> int:
    """The line of the .const file that holds line `line` (1-based) of a template's text."""
    return body.body_line + max(1, line) - 1 if body.long else body.span.line


def render_error_place(exc: TemplateRenderError, world: Any) -> str | None:
    """`file:line` in the .const file where the template of a render error failed (its first
    line when the template line is unknown), or None when the template cannot be found."""
    scope = getattr(world, "scope", {}).get("template", {})
    sym = scope.get(exc.template) if exc.template else None
    if sym is None or not isinstance(sym.node, ast.Template):
        return None
    body = sym.node.body
    line = file_line(body, exc.line) if exc.line is not None else body.span.line
    return f"{sym.module}:{line}"


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return environment().from_string(source)


def render(source: str, variables: dict[str, Any]) -> str:
    """Render template source with exactly these variables, inside the sandbox and within the
    render budget (see constlang.semantics.sandbox)."""
    try:
        template = _compiled(source)
    except TemplateError as exc:
        raise TemplateRenderError(f"the template does not compile: {exc}") from None
    except RecursionError:
        raise TemplateRenderError("the template is nested too deeply to compile") from None
    try:
        return render_bounded(template, variables).strip() + "\n"
    except SecurityError as exc:
        raise TemplateRenderError(f"blocked by the template sandbox: {exc}",
                                  _template_line(exc)) from None
    except UndefinedError as exc:
        raise TemplateRenderError(f"undefined value: {exc}", _template_line(exc)) from None
    except TemplateError as exc:
        raise TemplateRenderError(str(exc), _template_line(exc)) from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, ArithmeticError,
            RecursionError, MemoryError) as exc:
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}", _template_line(exc)) from None


def _template_line(exc: BaseException) -> int | None:
    """The template line an error came from: Jinja rewrites its traceback to template lines."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_WORD = re.compile(r"\w+")
_PRINT = re.compile(r"\{\{[-+]?\s*(\w+)\s*[-+]?\}\}")
STRIDE = 256  # decoded characters between two remembered offsets of a one-line string


class _Places:
    """Maps words of a template's text back into the .const file.

    A template line can hold thousands of names: each line's words, each line's `{{ name }}`
    prints and the escapes of a one-line string are read once and indexed, so locating every
    diagnostic on a long line costs about the line's length, not that times their number.
    """

    def __init__(self, body: ast.Str, lines: list[str], literal: str | None) -> None:
        self.body, self.lines, self.literal = body, lines, literal or ""
        self._words: dict[int, dict[str, int]] = {}  # line → word → its first column
        self._prints: dict[int, dict[str, list[int]]] = {}  # line → name → `{{ name }}` columns
        self._marks: list[int] | None = None  # source offset of every STRIDE-th character
        self.scanned = 0  # characters read to build the indexes (tests check it stays linear)

    def text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def column(self, line: int, needle: str) -> int:
        """Column on template line `line` of the first whole-word occurrence of `needle`."""
        if not _WORD.fullmatch(needle):  # not a name: search for it the slow way
            m = re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", self.text(line))
            return m.start() if m else 0
        if line not in self._words:
            words: dict[str, int] = {}
            for m in _WORD.finditer(self.text(line)):
                words.setdefault(m.group(), m.start())
            self._words[line] = words
            self.scanned += len(self.text(line))
        return self._words[line].get(needle, 0)

    def printed_at(self, line: int, name: str, k: int) -> int | None:
        """Column of the name in the k-th `{{ name }}` on template line `line` (None when the
        expression spans lines: the name's first occurrence on its line is used instead)."""
        if line not in self._prints:
            prints: dict[str, list[int]] = {}
            for m in _PRINT.finditer(self.text(line)):
                prints.setdefault(m.group(1), []).append(m.start(1))
            self._prints[line] = prints
            self.scanned += len(self.text(line))
        found = self._prints[line].get(name, [])
        return found[k - 1] if len(found) >= k else None

    def at(self, lineno: int, needle: str, column: int | None = None) -> Span:
        """The span in the .const file of `needle` on template line `lineno` (1-based), at
        `column` of that line when known, else at its first whole-word occurrence."""
        line, body = max(1, lineno), self.body
        col_in_text = column if column is not None else self.column(line, needle) if needle \
            else 0
        span = body.span
        if body.long and line == 1 and body.body_line == span.line:
            # text that starts on the line of the opening `"""`
            at_column = span.column + 3 + body.body_indent + col_in_text
        elif body.long:
            at_column = body.body_indent + col_in_text + 1
        else:
            at_column = span.column + 1 + self.source_offset(col_in_text)  # past the quote
        at = file_line(body, line)
        return Span(span.file, at, at_column, at, at_column + max(1, len(needle)), span.start,
                    span.end)

    def source_offset(self, index: int) -> int:
        """Where the `index`-th decoded character of a one-line string sits in its source
        text (`literal`, between the quotes): each escape such as `\\"` or `\\u00e9` is wider
        there. The walk starts from the nearest remembered offset."""
        literal = self.literal
        if self._marks is None:
            self._marks, pos, done = [0], 0, 0
            while pos < len(literal):
                pos, done = _next_char(literal, pos), done + 1
                if done % STRIDE == 0:
                    self._marks.append(pos)
            self.scanned += len(literal)
        k = min(index // STRIDE, len(self._marks) - 1)
        pos, done = self._marks[k], k * STRIDE
        while done < index:
            if pos >= len(literal):  # no source text to follow: one column a character
                return pos + index - done
            pos, done = _next_char(literal, pos), done + 1
        return pos


def _next_char(literal: str, pos: int) -> int:
    """Where the decoded character after the one at source offset `pos` starts."""
    if literal[pos] != "\\":
        return pos + 1
    return pos + 6 if re.match(r"u[0-9a-fA-F]{4}", literal[pos + 1:pos + 6]) else pos + 2


def check_template(tpl: ast.Template, diags: Diagnostics, literal: str | None = None) -> set[str]:
    """Check a template declaration; returns the variables its text uses.

    `literal` is the body's source text between its quotes, to place positions exactly after
    escape sequences in a one-line string.
    """
    source = tpl.body.value
    lines = source.split("\n")
    declared = [p.name for p in tpl.params]
    seen: set[str] = set()
    for p in tpl.params:
        if p.name in seen:
            diags.error("E305", f"parameter `{p.name}` is declared twice", p.span,
                        "remove the second one")
        seen.add(p.name)
    places = _Places(tpl.body, lines, literal)
    try:
        parsed = environment().parse(source)
        return _check_parsed(tpl, parsed, declared, diags, places)
    except TemplateSyntaxError as exc:
        diags.error("E301", f"template `{tpl.name}` has a Jinja syntax error: {exc.message}",
                    places.at(exc.lineno or 1, ""),
                    "see https://jinja.palletsprojects.com/templates/ for the template syntax")
    except RecursionError:
        diags.error("E301", f"template `{tpl.name}` is nested too deeply to check",
                    places.at(1, ""),
                    "flatten the nested blocks or parentheses")
    return set()


def _check_parsed(tpl: ast.Template, parsed: nodes.Template, declared: list[str],
                  diags: Diagnostics, places: _Places) -> set[str]:
    used = set(meta.find_undeclared_variables(parsed))
    first_line: dict[str, int] = {}
    for node in parsed.find_all(nodes.Name):
        first_line.setdefault(node.name, node.lineno)
    for name in sorted(used - set(declared), key=lambda n: first_line.get(n, 0)):
        params = ", ".join(declared + [name])
        help_ = f"add `{name}` to the parameters: template {tpl.name}({params})"
        diags.error("E302",
                    f"template `{tpl.name}` uses `{name}`, which is not a declared parameter",
                    places.at(first_line.get(name, 1), name), help_)
    load: nodes.Node
    for load in parsed.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        word = {"Include": "include", "Import": "import", "FromImport": "from",
                "Extends": "extends"}[type(load).__name__]
        diags.error("E306", f"template `{tpl.name}` uses `{{% {word} %}}`; a template cannot "
                    "load other templates", places.at(load.lineno, word),
                    "declare one template per prompt, and pass text in through its parameters")
    for bad, owner, field in _unknown_fields(parsed):
        fields = OBJECT_FIELDS[owner]
        diags.error("E307", f"template `{tpl.name}`: {owner} has no field `{field}`",
                    places.at(bad.lineno, field),
                    did_you_mean(field, fields) or f"{owner} fields: " + ", ".join(fields))
    for reach in parsed.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter)):
        attr = _internal_name(reach)
        if attr is not None:
            diags.error("E304", f"template `{tpl.name}` reaches for `{attr}`; names starting with "
                        "`_` are Python internals and are not allowed in templates",
                        places.at(reach.lineno, attr),
                        "use only the fields of the declared parameters")
    macros = {m.name for m in parsed.find_all(nodes.Macro)}
    seen: dict[tuple[int, str], int] = {}  # (line, name) → prints of it met so far
    for out in parsed.find_all(nodes.Output):
        for shown in out.nodes:
            if isinstance(shown, nodes.Name) and (shown.name in UNPRINTABLE
                                                  or shown.name in macros):
                k = seen[shown.lineno, shown.name] = seen.get((shown.lineno, shown.name), 0) + 1
                column = places.printed_at(shown.lineno, shown.name, k)
                diags.error("E308", f"template `{tpl.name}` prints `{shown.name}`, which is not "
                            "text: it would show a Python object",
                            places.at(shown.lineno, shown.name, column),
                            "print text, numbers or lists of them, such as a parameter's field")
    return used


def _unknown_fields(parsed: nodes.Template) -> list[tuple[nodes.Node, str, str]]:
    """`principle.x`, `question.x` and `ex.x` (in a loop over `examples`) with an unknown x."""
    owners = {"principle": "principle", "question": "question"}
    for loop in parsed.find_all(nodes.For):
        if isinstance(loop.iter, nodes.Name) and loop.iter.name == "examples" and \
                isinstance(loop.target, nodes.Name):
            owners[loop.target.name] = "example"
    out: list[tuple[nodes.Node, str, str]] = []
    found: Any
    for found in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        node = found
        if not isinstance(node.node, nodes.Name) or node.node.name not in owners:
            continue
        if isinstance(node, nodes.Getattr):
            field = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            field = node.arg.value
        else:
            continue
        owner = owners[node.node.name]
        if not field.startswith("_") and field not in OBJECT_FIELDS[owner]:
            out.append((node, owner, field))
    return out


def _internal_name(node: nodes.Node) -> str | None:
    """The `_`-prefixed attribute or name a node reaches for, if any."""
    names: list[object] = []
    if isinstance(node, nodes.Getattr):
        names = [node.attr]
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        names = [node.arg.value]
    elif isinstance(node, nodes.Name):
        names = [node.name]
    elif isinstance(node, nodes.Filter) and node.name in ATTRIBUTE_FILTERS:
        # x|attr('__class__'), xs|map(attribute='a.__class__'): dotted paths are split on `.`
        args = [*node.args, *(kw.value for kw in node.kwargs)]
        for arg in args:
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                names.extend(arg.value.split("."))
    return next((n for n in names if isinstance(n, str) and n.startswith("_")), None)
