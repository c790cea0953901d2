"""Sandbox: the one Jinja environment templates render in, and the budget that bounds a render.

What a template can do is bounded as a whole, not call by call: every sandboxed operation
(attribute, item, call, operator, filter, loop iteration) takes a step from a per-render
budget that also holds the characters built, the output written and a wall-clock deadline.
Operations whose result size is known beforehand (`*`, `**`, `%`, widths, `replace`, `join`)
are refused before they allocate. Only plain values (text, numbers, booleans, none, and lists
and mappings of them) can be printed.
"""

from __future__ import annotations

import functools
import time
import types
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from constlang.semantics.formatsize import BoundedEscapeFormatter, BoundedFormatter, percent_size

MAX_POWER_BITS = 4096  # integers a template builds stay below this many bits
MAX_STEPS = 2_000_000  # sandboxed operations and loop iterations in one render
MAX_CHARS = 4_000_000  # characters (or items) in one value, and in the output, beyond inputs
MAX_BUILT = 40_000_000  # characters and items built in one render, all values together
MAX_SECONDS = 5.0  # wall-clock time of one render
TEMPLATE_GLOBALS = ("range", "dict", "namespace")  # lipsum, cycler and joiner are left out


class RenderLimit(SecurityError):
    """A render went past one of the budget's bounds. A jinja2 SecurityError, not a
    ConstlangError, so Jinja and the sandbox stop a render for it as for any blocked
    operation; `templates.render` turns it into a TemplateRenderError."""


@dataclass
class Budget:
    """What one render may still spend."""

    max_chars: int = MAX_CHARS
    steps: int = 0
    built: int = 0
    output: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            raise RenderLimit(f"the template takes more than {MAX_STEPS:,} steps "
                              "(loops, calls and filters together)")
        if self.steps & 0x3FF == 0 and time.monotonic() > self.deadline:
            raise RenderLimit(f"rendering took longer than {MAX_SECONDS:g} seconds")

    def made(self, value: Any) -> Any:
        """Account for a value an operation produced; too large a value is refused."""
        size = _size(value)
        if size > self.max_chars:
            raise RenderLimit(f"a value of {size:,} characters or items is larger than the "
                              f"limit of {self.max_chars:,}")
        if _is_int(value) and value.bit_length() > MAX_POWER_BITS:
            raise RenderLimit(f"a number of more than {MAX_POWER_BITS:,} bits is too large")
        self.built += size
        if self.built > MAX_BUILT:
            raise RenderLimit(f"the template builds more than {MAX_BUILT:,} characters in all")
        self.step()
        return value

    def will_make(self, size: int) -> None:
        """Refuse an operation whose result would be `size` long before it is built."""
        if size > self.max_chars:
            raise RenderLimit(f"the result would be {size:,} characters or items long; the "
                              f"limit is {self.max_chars:,}")


_budget: ContextVar[Budget | None] = ContextVar("constlang_render_budget", default=None)


def budget() -> Budget:
    """The budget of the render in progress (a fresh, unshared one outside a render)."""
    return _budget.get() or Budget()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def input_size(values: Iterable[Any], depth: int = 0) -> int:
    """Characters in the variables a render starts from (their own size is always allowed)."""
    total = 0
    for v in values:
        if isinstance(v, str):
            total += len(v)
        elif isinstance(v, dict) and depth < 3:
            total += len(v) + input_size(v.values(), depth + 1)
        elif isinstance(v, (list, tuple)) and depth < 3:
            total += len(v) + input_size(v, depth + 1)
    return total


PLAIN = (str, int, float, bool, type(None))


def is_plain(value: Any, depth: int = 0) -> bool:
    """Text, numbers, booleans and none, or lists and mappings of them (their printing is data,
    never a Python object's repr)."""
    if isinstance(value, PLAIN):
        return True
    if depth < 4 and isinstance(value, (list, tuple)):
        return all(is_plain(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return all(isinstance(k, PLAIN) and is_plain(v, depth + 1) for k, v in value.items())
    return False


def print_plain(value: Any) -> Any:
    """Jinja's `finalize`: every `{{ ... }}` passes its value here before it is printed."""
    if not is_plain(value):
        raise SecurityError(f"a template can print only text, numbers and lists of them, not "
                            f"{_describe(value)}")
    return value


def _describe(value: Any) -> str:
    name = type(value).__name__
    words = {"TemplateReference": "`self`", "LoopContext": "the `loop` object",
             "Macro": "a macro", "Namespace": "a namespace", "range": "a range",
             "Caller": "`caller`"}
    if name in words:
        return words[name]
    return "a function" if callable(value) else f"a Python object ({name})"


def plain_text(value: Any) -> Any:
    """The `plain` filter every operand of `~` passes through: no object turns into its repr."""
    return print_plain(value)


# Filters that turn their subject or arguments into text: they take plain values only
TEXT_FILTERS = frozenset({
    "string", "pprint", "join", "format", "tojson", "safe", "e", "escape", "forceescape",
    "urlencode", "xmlattr", "capitalize", "title", "upper", "lower", "trim", "center", "indent",
    "truncate", "wordwrap", "wordcount", "replace", "striptags", "urlize", "filesizeformat"})


def _plain_args(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Check a text filter's arguments are plain; an iterator subject is read into a list."""
    if args and isinstance(args[0], (GeneratorType, range)):  # what map, select... return
        args = (list(args[0]), *args[1:])
    for value in (*args, *kwargs.values()):
        if not is_plain(value):
            raise SecurityError(f"the `{name}` filter takes only text, numbers and lists of "
                                f"them, not {_describe(value)}")
    return args


class _Guard(NodeTransformer):
    """Wraps each `for` loop's iterable in the `loop_steps` filter and each operand of `~` in
    the `plain` filter."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "loop_steps", [], [], None, None,
                                 lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [nodes.Filter(n, "plain", [], [], None, None, lineno=n.lineno)
                      for n in node.nodes]
        return node


class BudgetedCode(CodeGenerator):
    """Compiles a template with its loops counted and its `~` operands checked (see _Guard)."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        guarded = _Guard().visit(node)
        guarded.set_environment(self.environment)
        super().visit_Template(guarded, frame)


def _loop_steps(items: Any) -> Iterator[Any]:
    b = budget()
    for item in items:
        b.step()
        yield item


def _precheck(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a string method or filter (`name`, called with `args`, the subject first) whose
    result is known beforehand to be too large."""
    if not args:
        return
    b = budget()
    subject, rest = args[0], (*args[1:], *kwargs.values())
    if name == "join":
        sep = args[1] if len(args) > 1 else kwargs.get("d", "")
        if isinstance(subject, (list, tuple, str)) and isinstance(sep, str):
            b.will_make(len(subject) * len(sep) + sum(_size(i) + 24 for i in subject))
        return
    if not isinstance(subject, str):
        return
    if name == "replace" and len(args) >= 3 and isinstance(args[1], str):
        new = args[2] if isinstance(args[2], str) else str(args[2])
        hits = subject.count(args[1]) if args[1] else len(subject) + 1
        b.will_make(len(subject) + hits * max(0, len(new) - len(args[1])))
    elif name == "format":  # the filter: `subject % (kwargs or args)`
        b.will_make(percent_size(subject, kwargs or tuple(args[1:])))
    elif name == "expandtabs":
        tab = args[1] if len(args) > 1 and _is_int(args[1]) else 8
        b.will_make(len(subject) + subject.count("\t") * max(0, tab))
    elif name in ("center", "ljust", "rjust", "zfill", "indent", "wordwrap", "truncate"):
        widths = sum(abs(a) for a in rest if _is_int(a))
        b.will_make(len(subject) + (1 + subject.count("\n")) * widths)


def _counted(fn: Any, name: str) -> Any:
    """Filter or test `name`: takes steps from the budget, checked before and after it runs."""
    skip = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0  # the context argument

    @functools.wraps(fn)
    def counted(*args: Any, **kwargs: Any) -> Any:
        b = budget()
        real = args[skip:]
        if name in TEXT_FILTERS:
            real = _plain_args(name, real, kwargs)
            args = (*args[:skip], *real)
        _check_numbers((*real, *kwargs.values()))
        _precheck(name, real, kwargs)
        b.step(1 + (_size(real[0]) if real else 0) // 64)
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            return _loop_steps(result)
        return b.made(result)

    return counted


def _check_numbers(values: Iterable[Any]) -> None:
    for value in values:
        if _is_int(value) and abs(value) > MAX_RANGE:
            raise SecurityError(f"a call with the number {value:,} would build too much; "
                                f"numbers passed to calls are capped at {MAX_RANGE:,}")


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with every operation counted against the render's budget."""

    code_generator_class = BudgetedCode
    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {name: _counted(f, name) for name, f in self.filters.items()}
        self.filters["loop_steps"] = _loop_steps
        self.filters["plain"] = plain_text
        self.tests = {name: _counted(f, name) for name, f in self.tests.items()}

    def getattr(self, obj: Any, attribute: str) -> Any:
        b = budget()
        b.step()
        return b.made(super().getattr(obj, attribute))

    def wrap_str_format(self, value: Any) -> Any:
        # Jinja swaps `str.format` for its own formatter when the method is looked up; this
        # one is bounded too: plain arguments, capped numbers, and each field's size counted
        # before it is formatted (see formatsize.py)
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or \
                value.__name__ not in ("format", "format_map") or \
                not isinstance(value.__self__, str):
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1 or not isinstance(args[0], dict):
                    raise TypeError("format_map() takes exactly one mapping")
                kwargs, args = args[0], ()
            values = [*args, *kwargs.values()]
            if not all(is_plain(v) for v in values):
                raise SecurityError("`format` takes only text, numbers and lists of them")
            _check_numbers(values)
            limit = budget().will_make
            formatter = (BoundedEscapeFormatter(self, limit, escape=text.escape)
                         if isinstance(text, Markup) else BoundedFormatter(self, limit))
            return type(text)(formatter.vformat(text, args, kwargs))

        return checked

    def getitem(self, obj: Any, argument: Any) -> Any:
        b = budget()
        b.step()
        return b.made(super().getitem(obj, argument))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        b = budget()
        if operator == "%" and isinstance(left, str):
            if not is_plain(right):
                raise SecurityError(f"`%` formats only text, numbers and lists of them, not "
                                    f"{_describe(right)}")
            b.will_make(percent_size(left, right))
        if operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1 and (
                right * abs(left).bit_length() > MAX_POWER_BITS):
            raise RenderLimit("the result of `**` would be too large")
        if operator == "*":
            if _is_int(left) and _is_int(right):
                if left.bit_length() + right.bit_length() > MAX_POWER_BITS:
                    raise RenderLimit(f"a number of more than {MAX_POWER_BITS:,} bits is too "
                                      "large")
            else:
                seq, times = (left, right) if _is_int(right) else (right, left)
                if _is_int(times) and _size(seq):
                    b.will_make(_size(seq) * times)
        if operator == "+" and _size(left) and _size(right):
            b.will_make(_size(left) + _size(right))
        return b.made(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        b = budget()
        # widths and counts (range, str.center, ...) size their result
        _check_numbers((*args, *kwargs.values()))
        owner = getattr(__obj, "__self__", None)
        wrapped = __self.wrap_str_format(__obj)  # `str.format` reached without a look-up
        if wrapped is not None:
            __obj, owner = wrapped, None
        if isinstance(owner, str):  # a string method: its subject is the string
            method = getattr(__obj, "__name__", "")
            if not all(is_plain(a) for a in (*args, *kwargs.values())):
                raise SecurityError(f"`str.{method}` takes only text, numbers and lists of "
                                    "them here")
            _precheck(method, (args[0], owner) if method == "join" and args else (owner, *args),
                      kwargs)
        b.step()
        return b.made(super().call(__context, __obj, *args, **kwargs))


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The one environment every template is checked and rendered in."""
    env = Sandbox(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=False, finalize=print_plain,
    )
    env.globals = {k: v for k, v in env.globals.items() if k in TEMPLATE_GLOBALS}
    return env


def render_bounded(template: Any, variables: dict[str, Any]) -> str:
    """Render a compiled template within a fresh budget; RenderLimit past any bound."""
    b = Budget(max_chars=MAX_CHARS + input_size(variables.values()))
    token = _budget.set(b)
    try:
        parts: list[str] = []
        for chunk in template.generate(**variables):
            b.output += len(chunk)
            if b.output > b.max_chars:
                raise RenderLimit(f"the output is longer than {b.max_chars:,} characters")
            b.step()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _budget.reset(token)
