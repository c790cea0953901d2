"""Check, declaration level: each declaration's field names, value types, ranges and references."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types as at
from pydantic.fields import FieldInfo

from constlang import declarations as P
from constlang.embedded import EMBEDDED_MODELS
from constlang.errors import Diagnostics, did_you_mean
from constlang.kinds import BY_NAME, SETTINGS_BY_KIND
from constlang.semantics.check_data import dataset_target
from constlang.semantics.check_needs import stage_needs
from constlang.semantics.fields import (
    field_bounds,
    field_extra,
    fields_of,
    number_text,
    type_word,
    unwrap_optional,
)
from constlang.semantics.paths import display_path, shorten
from constlang.semantics.resolve import Symbol, World
from constlang.span import Span
from constlang.suggest import NameIndex
from constlang.syntax import ast

DECL_MODELS: dict[str, type[P.Strict]] = {
    "principle": P.Principle, "check": P.Check, "question": P.Question, "example": P.Example,
    "model": P.Model, "dataset": P.Dataset,
}
DEFAULT_OPTIONS = {"pairwise": ["(A)", "(B)"], "pointwise": ["Yes", "No"]}


@dataclass
class Checked:
    """Values of one declaration after checking: field name → Python value (aliases used)."""

    symbol: Symbol
    values: dict[str, Any]
    spans: dict[str, Span] = field(default_factory=dict)
    ok: bool = True


def _value_word(v: ast.Value) -> str:
    if isinstance(v, ast.Str):
        return "a string"
    if isinstance(v, ast.Bool):
        return f"`{'true' if v.value else 'false'}`"
    if isinstance(v, ast.Number):
        return f"the number {v.text}"
    if isinstance(v, ast.Ref):
        return f"the name `{v.name}`"
    return "a list"


class DeclChecker:
    def __init__(self, world: World, diags: Diagnostics):
        self.world = world
        self.diags = diags
        self.scope = world.scope
        self._names: dict[tuple[str, ...], NameIndex] = {}

    # -- values -------------------------------------------------------------------------
    def convert(self, value: ast.Value, tp: Any, where: str) -> tuple[bool, Any]:
        """Convert an AST value to `tp`; reports E105 and returns (False, None) on a mismatch."""
        tp, _ = unwrap_optional(tp)
        origin = typing.get_origin(tp)
        ok = True
        out: Any = None
        if origin is Literal:
            choices = typing.get_args(tp)
            word = value.name if isinstance(value, ast.Ref) else (
                value.value if isinstance(value, ast.Str) else None)
            if word in choices:
                return True, word
            help_ = did_you_mean(str(word), choices) if word else None
            given = f'"{word}"' if isinstance(value, ast.Str) else _value_word(value)
            self.diags.error("E105", f"{where} must be {type_word(tp)}, not {given}",
                             value.span, help_ or f"choose one of: {', '.join(choices)}")
            return False, None
        if origin is list:
            (item_tp,) = typing.get_args(tp)
            if not isinstance(value, ast.List):
                self.diags.error("E105", f"{where} must be {type_word(tp)}, not "
                                 f"{_value_word(value)}", value.span,
                                 "write a list in square brackets, e.g. [a, b]")
                return False, None
            out = []
            for item in value.items:
                good, v = self.convert(item, item_tp, f"an item of {where}")
                ok = ok and good
                out.append(v)
            return ok, out
        if tp is bool:
            if isinstance(value, ast.Bool):
                return True, value.value
        elif tp is int:
            if isinstance(value, ast.Number) and isinstance(value.value, int):
                return True, value.value
            if isinstance(value, ast.Number):
                self.diags.error("E105", f"{where} must be a whole number, not {value.text}",
                                 value.span, None)
                return False, None
        elif tp is float:
            if isinstance(value, ast.Number):
                try:
                    return True, float(value.value)
                except OverflowError:
                    self.diags.error("E106", f"{where} is too large for a number with a "
                                     "fraction", value.span, "use a smaller value")
                    return False, None
        elif tp is str:
            if isinstance(value, ast.Str):
                return True, value.value
            if isinstance(value, ast.Ref):
                self.diags.error("E105", f"{where} must be a string, not the name `{value.name}`",
                                 value.span, f'put it in quotes: "{value.name}"')
                return False, None
        self.diags.error("E105", f"{where} must be {type_word(tp)}, not {_value_word(value)}",
                         value.span, None)
        return False, None

    def check_range(self, info: FieldInfo, value: Any, span: Span, where: str) -> bool:
        if value is None or isinstance(value, bool):
            return True
        bounds = field_bounds(info)
        if isinstance(value, list):
            lo_len = next((m.min_length for m in info.metadata if isinstance(m, at.MinLen)), None)
            hi_len = next((m.max_length for m in info.metadata if isinstance(m, at.MaxLen)), None)
            if (lo_len is not None and len(value) < lo_len) or (
                    hi_len is not None and len(value) > hi_len):
                count = f"exactly {lo_len}" if lo_len == hi_len else f"{lo_len}–{hi_len}"
                self.diags.error("E106", f"{where} must have {count} items, got {len(value)}",
                                 span, info.description)
                return False
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, (int, float)) and not all(test(v) for test, _ in bounds):
                words = " and ".join(w for _, w in bounds)
                self.diags.error("E106", f"{where} must be {words}, got {number_text(v)}", span,
                                 info.description)
                return False
        return True

    def check_ref(self, value: ast.Value, info: FieldInfo, where: str) -> tuple[bool, Any]:
        extra = field_extra(info)
        kinds = extra["ref"].split("|")
        if extra.get("selection"):
            if isinstance(value, ast.Ref) and value.name == "all":
                return True, "all"
            if not isinstance(value, ast.List):
                self.diags.error("E105", f"{where} must be `all` or a list of {kinds[0]} names",
                                 value.span, f"e.g. {where.strip('`')} = [first, second]")
                return False, None
            out, ok = [], True
            for item in value.items:
                good, name = self._one_ref(item, kinds, f"an item of {where}")
                ok = ok and good
                out.append(name)
            return ok, out
        if extra.get("many") and isinstance(value, ast.List):
            if not value.items and info.get_default(call_default_factory=True) == []:
                return True, []  # a list that may be empty: `checks = []` names none
            if not value.items:
                self.diags.error("E105", f"{where} must name at least one {kinds[0]}",
                                 value.span, f"e.g. {where.strip('`')} = [first, second]")
                return False, None
            results = [self._one_ref(item, kinds, f"an item of {where}") for item in value.items]
            return all(good for good, _ in results), [name for _, name in results]
        return self._one_ref(value, kinds, where)

    def _one_ref(self, value: ast.Value, kinds: list[str], where: str) -> tuple[bool, Any]:
        if not isinstance(value, ast.Ref):
            what = " or ".join(kinds)
            help_ = None
            if isinstance(value, ast.Str) and any(value.value in self.scope[k] for k in kinds):
                help_ = f"remove the quotes: {value.value}"
            self.diags.error("E105", f"{where} must name a {what}, not {_value_word(value)}",
                             value.span, help_)
            return False, None
        for k in kinds:
            if value.name in self.scope[k]:
                return True, value.name
        for k, syms in self.scope.items():
            if k not in kinds and value.name in syms:
                self.diags.error("E108", f"{where} must name a {' or '.join(kinds)}, but "
                                 f"`{value.name}` is a {k}", value.span, None)
                return False, None
        key = tuple(kinds)  # one index per kind list: many misspellings, one sort
        names = self._names.get(key) or self._names.setdefault(
            key, NameIndex(n for k in kinds for n in self.scope[k]))
        self.diags.error("E101", f"unknown {' or '.join(kinds)} `{value.name}`", value.span,
                         did_you_mean(value.name, names) or
                         (f"declare it: {kinds[0]} {value.name} {{ ... }}" if kinds[0] != "template"
                          else None))
        return False, None

    # -- declarations -------------------------------------------------------------------
    def check_fields(self, fields: tuple[ast.Field, ...], allowed: dict[str, FieldInfo],
                     what: str, name_span: Span, skip: tuple[str, ...] = ()) -> Checked | None:
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        ok = True
        for f in fields:
            if f.name in skip:
                continue
            if f.name in spans:
                self.diags.error("E107", f"field `{f.name}` is set twice in {what}", f.name_span,
                                 f"the first is on line {spans[f.name].line}; remove one")
                ok = False
                continue
            spans[f.name] = f.value.span
            info = allowed.get(f.name)
            if info is None:
                self.diags.error("E103", f"{what} has no field `{f.name}`", f.name_span,
                                 did_you_mean(f.name, allowed) or
                                 "fields: " + ", ".join(sorted(allowed)))
                ok = False
                continue
            where = f"`{f.name}`"
            if "ref" in field_extra(info):
                good, v = self.check_ref(f.value, info, where)
            else:
                good, v = self.convert(f.value, info.annotation, where)
                good = good and self.check_range(info, v, f.value.span, where)
            ok = ok and good
            if good:
                values[f.name] = v
        for fname, info in allowed.items():
            if info.is_required() and fname not in spans:
                self.diags.error("E104", f"{what} is missing the required field `{fname}`",
                                 name_span, f"add `{fname} = ...` ({info.description or ''})")
                ok = False
        return Checked(Symbol(None, ""), values, spans, ok)  # type: ignore[arg-type]

    def check_decl(self, sym: Symbol) -> Checked:
        node = sym.node
        assert isinstance(node, ast.Declaration)
        what = f"{node.kind} `{node.name}`"
        if node.kind == "stage":
            return self.check_stage(sym)
        if node.kind == "check":
            from constlang.semantics.check_checks import check_check

            return check_check(self, sym, anchor(sym)) or Checked(sym, {}, {}, False)
        checked = self.check_fields(node.fields, fields_of(DECL_MODELS[node.kind]), what,
                                    anchor(sym))
        assert checked is not None
        checked.symbol = sym
        if node.kind == "question":
            self._question_options(checked, node, anchor(sym))
        if node.kind == "model":
            self._model_source(checked)
        if node.kind == "dataset":
            self._dataset_path(checked, sym)
        return checked

    def _dataset_path(self, c: Checked, sym: Symbol) -> None:
        """A dataset file must lie inside the project root, as imports must (SECURITY.md)."""
        raw = c.values.get("path")
        if not isinstance(raw, str) or self.world.allow_outside_root:
            return
        try:
            target = dataset_target(self.world, sym, raw).resolve()
            target.relative_to(self.world.root)
        except ValueError:
            self.diags.error("E205", f"dataset `{sym.name}` reads `{shorten(raw)}`, outside the "
                             f"project root `{display_path(self.world.root)}`",
                             c.spans["path"], "move the file into the project, or pass "
                             "--allow-outside-root if you trust the constitution")
            c.ok = False
        except (OSError, RuntimeError) as exc:
            self.diags.error("E205", f"dataset `{sym.name}`: cannot resolve `{shorten(raw)}`: "
                             f"{getattr(exc, 'strerror', None) or exc}", c.spans["path"], None)
            c.ok = False

    def _question_options(self, c: Checked, node: ast.Declaration, at: Span) -> None:
        kind = c.values.get("kind", "pairwise")
        options = c.values.get("options") or DEFAULT_OPTIONS[kind]
        if len(options) != 2:
            self.diags.error("E106", f"question `{node.name}` needs exactly two options, "
                             f"got {len(options)}", c.spans.get("options", at),
                             f'e.g. options = ["{DEFAULT_OPTIONS[kind][0]}", '
                             f'"{DEFAULT_OPTIONS[kind][1]}"]')
            c.ok = False
        elif options[0].strip() == options[1].strip():
            self.diags.error("E106", f"question `{node.name}` has two identical options",
                             c.spans["options"], None)
            c.ok = False
        good = c.values.get("good_answer")
        if kind == "pointwise" and good is None:
            self.diags.error("E104", f"pointwise question `{node.name}` is missing the required "
                             "field `good_answer`", at,
                             f'say which option a good reply earns, e.g. good_answer = '
                             f'"{options[-1]}"')
            c.ok = False
        elif kind == "pairwise" and good is not None:
            field_ = node.field("good_answer")
            self.diags.error("E103", "`good_answer` applies to pointwise questions only",
                             field_.name_span if field_ else c.spans["good_answer"],
                             "remove it, or set `kind = pointwise`")
            c.ok = False
        elif good is not None and len(options) == 2 and good not in options:
            self.diags.error("E106", f"`good_answer` must be one of the options "
                             f"({', '.join(options)}), got \"{good}\"", c.spans["good_answer"],
                             did_you_mean(good, options) or
                             next((f"options are case-sensitive: \"{o}\"" for o in options
                                   if o.casefold() == good.casefold()), None))
            c.ok = False

    def _model_source(self, c: Checked) -> None:
        source = c.values.get("source")
        if isinstance(source, str) and source.startswith("embedded:"):
            name = source.split(":", 1)[1]
            if name not in EMBEDDED_MODELS:
                self.diags.error("E101", f"unknown embedded model `{name}`", c.spans["source"],
                                 did_you_mean(name, EMBEDDED_MODELS) or
                                 "embedded models: " + ", ".join(EMBEDDED_MODELS))
                c.ok = False

    def stage_kind(self, node: ast.Declaration) -> str | None:
        kinds = [f for f in node.fields if f.name == "kind"]
        for extra in kinds[1:]:
            self.diags.error("E107", f"field `kind` is set twice in stage `{node.name}`",
                             extra.name_span,
                             f"the first is on line {kinds[0].name_span.line}; remove one")
        f = node.field("kind")
        word = node.name
        if f is not None:
            if isinstance(f.value, (ast.Ref, ast.Str)):
                word = f.value.name if isinstance(f.value, ast.Ref) else f.value.value
            else:
                self.diags.error("E105", "`kind` must name a stage kind", f.value.span,
                                 "stage kinds: " + ", ".join(SETTINGS_BY_KIND))
                return None
        if word in SETTINGS_BY_KIND:
            return word
        span = f.value.span if f is not None else node.name_span
        help_ = did_you_mean(word, SETTINGS_BY_KIND)
        if f is None:
            help_ = (help_ + " — or set `kind = ...`" if help_ else
                     "name the stage after its kind, or set `kind = ...`; kinds: "
                     + ", ".join(SETTINGS_BY_KIND))
        self.diags.error("E109", f"unknown stage kind `{word}`", span, help_)
        return None

    def check_stage(self, sym: Symbol) -> Checked:
        node = sym.node
        assert isinstance(node, ast.Declaration)
        kind = self.stage_kind(node)
        if kind is None:
            return Checked(sym, {}, {}, False)
        settings = SETTINGS_BY_KIND[kind]
        checked = self.check_fields(node.fields, fields_of(settings), f"stage `{node.name}`",
                                    anchor(sym), skip=("kind",))
        assert checked is not None
        checked.symbol = sym
        checked.values["kind"] = kind
        clamp = checked.values.get("clamp")
        if isinstance(clamp, list) and len(clamp) == 2 and not (0.0 <= clamp[0] < clamp[1] <= 1.0):
            self.diags.error("E106", "`clamp` must be [low, high] with 0 <= low < high <= 1",
                             checked.spans["clamp"], "the paper clamps to [0.4, 0.6]")
            checked.ok = False
        if not stage_needs(self.diags, node.name, BY_NAME[kind], checked.values, checked.spans,
                           anchor(sym)):
            checked.ok = False
        return checked


def anchor(sym: Symbol) -> Span:
    """Where to report a problem of a whole declaration: its last override, else its name."""
    last = sym.overridden_by[-1] if sym.overridden_by else sym.node
    return last.name_span


