"""AST: immutable nodes built from the parse tree, each carrying the Span it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from constlang.span import Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span
    long: bool = False  # written as a triple-quoted string
    body_line: int = 0  # file line of the first line of `value`
    body_indent: int = 0  # columns removed from each line by dedenting


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    span: Span
    text: str


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Ref:
    """A bare name used as a value: a reference, or an enum word such as `per_revision`."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class List:
    items: tuple[Value, ...]
    span: Span


Value = Union[Str, Number, Bool, Ref, List]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    name_span: Span
    value: Value
    span: Span


@dataclass(frozen=True, slots=True)
class VersionHeader:
    number: int
    span: Span


@dataclass(frozen=True, slots=True)
class Constitution:
    name: Str
    fields: tuple[Field, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: Str
    span: Span


@dataclass(frozen=True, slots=True)
class Declaration:
    """principle, question, example, model, dataset or stage."""

    kind: str
    name: str
    name_span: Span
    fields: tuple[Field, ...]
    override: bool
    span: Span

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    name_span: Span
    params: tuple[Param, ...]
    body: Str
    override: bool
    span: Span
    kind: str = "template"


@dataclass(frozen=True, slots=True)
class Drop:
    kind: str
    name: str
    name_span: Span
    span: Span


Item = Union[Constitution, Import, Declaration, Template, Drop]
Named = Union[Declaration, Template]


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: VersionHeader | None
    items: tuple[Item, ...]

    def of(self, cls: type) -> list:
        return [i for i in self.items if isinstance(i, cls)]


def plain(value: Value) -> object:
    """The Python value of an AST value (references become their names)."""
    if isinstance(value, List):
        return [plain(v) for v in value.items]
    if isinstance(value, Ref):
        return value.name
    return value.value
