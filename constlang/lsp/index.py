"""Index: every declaration, reference and setting of a compiled world, by file and offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic.fields import FieldInfo

from constlang.kinds import SETTINGS_BY_KIND
from constlang.lsp.checks import check_fields
from constlang.semantics.check_declarations import DECL_MODELS
from constlang.semantics.fields import field_extra, fields_of
from constlang.semantics.resolve import KINDS, World
from constlang.span import Span
from constlang.syntax import ast

Key = tuple[str, str]  # (kind, name) of a declaration


@dataclass(frozen=True)
class Occurrence:
    """A name in the source that stands for a declaration."""

    key: Key
    span: Span
    role: str  # definition | override | drop | reference
    candidates: tuple[str, ...] = ()  # for a reference: the kinds the setting accepts


@dataclass(frozen=True)
class Setting:
    """A `name = value` field and the schema entry that describes it."""

    name: str
    span: Span  # of the name
    value: ast.Value
    info: FieldInfo | None
    owner: ast.Declaration | ast.Constitution
    owner_kind: str  # principle, ..., a stage kind such as `sft`, or `constitution`


@dataclass
class FileIndex:
    occurrences: list[Occurrence] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    items: list[ast.Item] = field(default_factory=list)


@dataclass
class SymbolIndex:
    """Who declares what, and where each name is used, in every file of a world."""

    world: World
    files: dict[str, FileIndex] = field(default_factory=dict)  # by display path
    definitions: dict[Key, Span] = field(default_factory=dict)
    _names: dict[str, list[tuple[str, Span]]] | None = None

    def declared(self, name: str) -> list[tuple[str, Span]]:
        """(kind, span) of every declaration called `name`."""
        if self._names is None:
            self._names = {}
            for (kind, n), span in self.definitions.items():
                self._names.setdefault(n, []).append((kind, span))
        return self._names.get(name, [])

    def path(self, display: str) -> Path | None:
        module = self.world.modules.get(display)
        return module.path if module else None

    def occurrence_at(self, display: str, offset: int) -> Occurrence | None:
        fi = self.files.get(display)
        if fi is None:
            return None
        for occ in fi.occurrences:
            if occ.span.start <= offset <= occ.span.end:
                return occ
        return None

    def setting_at(self, display: str, offset: int) -> Setting | None:
        fi = self.files.get(display)
        if fi is None:
            return None
        for s in fi.settings:
            if s.span.start <= offset <= s.span.end:
                return s
        return None

    def occurrences_of(self, key: Key) -> list[Occurrence]:
        return [o for fi in self.files.values() for o in fi.occurrences if o.key == key]


def stage_kind(decl: ast.Declaration) -> str | None:
    """A stage's kind: its `kind` field, else its name (None when neither is a kind)."""
    f = decl.field("kind")
    word = decl.name
    if f is not None:
        word = f.value.name if isinstance(f.value, ast.Ref) else (
            f.value.value if isinstance(f.value, ast.Str) else "")
    return word if word in SETTINGS_BY_KIND else None


def schema_of(decl: ast.Declaration) -> tuple[str, dict[str, FieldInfo]]:
    """(owner kind, fields) of a declaration: a stage's are its kind's settings."""
    if decl.kind == "stage":
        kind = stage_kind(decl)
        return (kind or "stage"), (fields_of(SETTINGS_BY_KIND[kind]) if kind else {})
    if decl.kind == "check":
        return "check", check_fields(decl)
    model = DECL_MODELS.get(decl.kind)
    return decl.kind, (fields_of(model) if model else {})


def _resolve_kind(world: World, name: str, kinds: tuple[str, ...]) -> str:
    for k in kinds:
        if name in world.scope.get(k, {}):
            return k
    return kinds[0]


def build_index(world: World) -> SymbolIndex:
    index = SymbolIndex(world)
    for kind in KINDS:
        for name, sym in world.scope.get(kind, {}).items():
            index.definitions[(kind, name)] = sym.node.name_span
    for display, module in world.modules.items():
        fi = FileIndex(items=list(module.module.items))
        index.files[display] = fi
        for item in module.module.items:
            if isinstance(item, ast.Template):
                role = "override" if item.override else "definition"
                fi.occurrences.append(Occurrence(("template", item.name), item.name_span, role))
            elif isinstance(item, ast.Drop):
                fi.occurrences.append(Occurrence((item.kind, item.name), item.name_span, "drop"))
            elif isinstance(item, ast.Declaration):
                role = "override" if item.override else "definition"
                fi.occurrences.append(Occurrence((item.kind, item.name), item.name_span, role))
                index.definitions.setdefault((item.kind, item.name), item.name_span)
                _fields(world, fi, item)
            elif isinstance(item, ast.Constitution):
                from constlang.declarations import ConstitutionInfo

                schema = fields_of(ConstitutionInfo, {"name"})
                for f in item.fields:
                    fi.settings.append(Setting(f.name, f.name_span, f.value, schema.get(f.name),
                                               item, "constitution"))
    return index


def _fields(world: World, fi: FileIndex, decl: ast.Declaration) -> None:
    owner_kind, schema = schema_of(decl)
    for f in decl.fields:
        info = schema.get(f.name)
        fi.settings.append(Setting(f.name, f.name_span, f.value, info, decl, owner_kind))
        if info is None or "ref" not in field_extra(info):
            continue
        kinds = tuple(str(field_extra(info)["ref"]).split("|"))
        values = f.value.items if isinstance(f.value, ast.List) else (f.value,)
        for v in values:
            if isinstance(v, ast.Ref) and not (v.name == "all" and isinstance(f.value, ast.Ref)):
                key = (_resolve_kind(world, v.name, kinds), v.name)
                fi.occurrences.append(Occurrence(key, v.span, "reference", kinds))
