"""Check, field schema: what a declaration or stage field accepts, read from its pydantic model."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, cast

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

INTERNAL_FIELDS = {"id", "location"}


def fields_of(model: type[BaseModel], skip: set[str] = INTERNAL_FIELDS) -> dict[str, FieldInfo]:
    """The user-facing fields of a plan model, keyed by the name written in .const files."""
    return {(info.alias or name): info for name, info in model.model_fields.items()
            if name not in skip}


def field_extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def type_word(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(tp))
    if typing.get_origin(tp) is list:
        item = type_word(typing.get_args(tp)[0])  # "a string" → "a list of strings"
        return "a list of " + (item[2:] + "s" if item.startswith("a ") else item)
    words = {str: "a string", int: "a whole number", float: "a number", bool: "`true` or `false`"}
    return words.get(tp, str(tp))


def number_text(v: float | int) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def range_words(info: FieldInfo) -> str:
    """A field's numeric bounds in words, e.g. `>= 1 and <= 64`."""
    return " and ".join(w for _, w in field_bounds(info))


def field_bounds(info: FieldInfo) -> list[tuple[Any, str]]:
    """(test, words) for each numeric bound of a field."""
    out: list[tuple[Any, str]] = []
    for m in info.metadata:
        if isinstance(m, at.Ge):
            out.append((lambda v, b=m.ge: v >= b, f">= {number_text(cast(float, m.ge))}"))
        elif isinstance(m, at.Gt):
            out.append((lambda v, b=m.gt: v > b, f"> {number_text(cast(float, m.gt))}"))
        elif isinstance(m, at.Le):
            out.append((lambda v, b=m.le: v <= b, f"<= {number_text(cast(float, m.le))}"))
        elif isinstance(m, at.Lt):
            out.append((lambda v, b=m.lt: v < b, f"< {number_text(cast(float, m.lt))}"))
    return out
