"""Completion: keywords, the settings of the block being edited, enum values, declaration
names of the kind a setting takes, and template variables inside `{{ }}`."""

from __future__ import annotations

import typing
from collections.abc import Collection
from typing import Any, Literal

from lsprotocol import types as T
from pydantic.fields import FieldInfo

from constlang.kinds import BY_NAME, SETTINGS_BY_KIND
from constlang.lsp.analysis import Analysis
from constlang.lsp.checks import check_fields, checker_items
from constlang.lsp.context import Context, context_at
from constlang.lsp.hover import declaration_markdown, describe_setting
from constlang.lsp.index import stage_kind
from constlang.semantics.check_declarations import DECL_MODELS
from constlang.semantics.fields import field_extra, fields_of, unwrap_optional
from constlang.semantics.templates import OBJECT_FIELDS, TEMPLATE_GLOBALS
from constlang.served import SERVED_FIELDS, WEIGHTS_FIELDS
from constlang.syntax import ast

TOP_LEVEL = {
    "constlang": ("constlang 1", "the language version header"),
    "constitution": ('constitution "${1:name}" {\n  version = "${2:0.1.0}"\n}',
                     "the constitution's name and metadata"),
    "import": ('import "${1:std/helpful.const}"', "bring in another file's declarations"),
    "principle": ('principle ${1:name} {\n  critique = "$2"\n  revision = "$3"\n}',
                  "a critique request and its revision request"),
    "check": ('check ${1:name} {\n  checker = ${2:refusal}\n  $0\n}',
              "a rule a program verifies on each reply"),
    "question": ('question ${1:name} {\n  text = "$2"\n}', "a question the judge answers"),
    "example": ('example ${1:name} {\n  prompt = "$2"\n  response = "$3"\n}',
                "a few-shot example"),
    "template": ('template ${1:name}(${2:prompt}) """\n$0\n"""', "a Jinja prompt template"),
    "model": ('model ${1:name} {\n  source = "${2:embedded:smollm2-135m-instruct}"\n}',
              "a model to generate or judge with"),
    "dataset": ('dataset ${1:name} {\n  path = "$2"\n}', "a JSONL file of prompts"),
    "stage": ("stage ${1:critique_revision} {\n  $0\n}", "a step of the training pipeline"),
    "override": ("override ", "change fields of an imported declaration"),
    "drop": ("drop ", "remove an imported declaration"),
}
DECL_KINDS = ("principle", "check", "question", "example", "template", "model", "dataset", "stage")
ITEM_KIND = {"principle": T.CompletionItemKind.Constant, "question": T.CompletionItemKind.Interface,
             "example": T.CompletionItemKind.Struct, "template": T.CompletionItemKind.Function,
             "model": T.CompletionItemKind.Class, "dataset": T.CompletionItemKind.File,
             "stage": T.CompletionItemKind.Event, "check": T.CompletionItemKind.Constant}


def complete(a: Analysis | None, text: str, offset: int) -> list[T.CompletionItem]:
    ctx = context_at(text, offset)
    if ctx.where == "top":
        return [T.CompletionItem(word, kind=T.CompletionItemKind.Keyword, detail=doc,
                                 insert_text=snippet,
                                 insert_text_format=T.InsertTextFormat.Snippet)
                for word, (snippet, doc) in TOP_LEVEL.items()]
    if ctx.where in ("drop", "override"):
        return _names(a, [ctx.decl_kind or ""], imported_only=True)
    if ctx.where == "field":
        return _settings(ctx)
    if ctx.where == "value":
        return _values(a, ctx)
    if ctx.where == "template":
        return _template_vars(ctx)
    return []


def block_schema(ctx: Context) -> tuple[str, dict[str, FieldInfo]]:
    """(owner kind, fields) of the block the cursor is in."""
    if ctx.block_kind == "stage":
        kind = ctx.stage_kind_word
        if kind in SETTINGS_BY_KIND:
            fields = fields_of(SETTINGS_BY_KIND[kind])
            return kind, fields
        return "stage", {}
    if ctx.block_kind == "constitution":
        from constlang.declarations import ConstitutionInfo

        return "constitution", fields_of(ConstitutionInfo, {"name"})
    if ctx.block_kind == "check":
        return "check", check_fields(ctx.block_text)
    model = DECL_MODELS.get(ctx.block_kind or "")
    return (ctx.block_kind or "?"), (fields_of(model) if model else {})


def _settings(ctx: Context) -> list[T.CompletionItem]:
    owner, fields = block_schema(ctx)
    taken = ctx.fields_set
    out = []
    if ctx.block_kind == "stage" and "kind" not in taken and owner == "stage":
        out.append(T.CompletionItem("kind", kind=T.CompletionItemKind.Property,
                                    detail="the stage's kind", insert_text="kind = "))
    for name, info in fields.items():
        if name in taken or name in _model_kind_excludes(ctx.block_kind, taken):
            continue
        doc = describe_setting(owner, name, info)
        out.append(T.CompletionItem(
            name, kind=T.CompletionItemKind.Property,
            detail=("required · " if info.is_required() else "") + (info.description or ""),
            documentation=T.MarkupContent(T.MarkupKind.Markdown, doc),
            insert_text=f"{name} = ", sort_text=("0" if info.is_required() else "1") + name))
    return out


def _model_kind_excludes(block: str | None, taken: Collection[str]) -> tuple[str, ...]:
    """In a model with an `endpoint`, the fields of weights are errors (E117), and the other
    way round: neither is offered."""
    if block != "model":
        return ()
    if "endpoint" in taken:
        return ("source", *WEIGHTS_FIELDS)
    return SERVED_FIELDS if "source" in taken else ()


def _values(a: Analysis | None, ctx: Context) -> list[T.CompletionItem]:
    if ctx.block_kind == "stage" and ctx.setting == "kind":
        return [T.CompletionItem(k, kind=T.CompletionItemKind.EnumMember,
                                 detail=BY_NAME[k].summary) for k in SETTINGS_BY_KIND]
    if ctx.block_kind == "check" and ctx.setting == "checker":
        return checker_items()
    owner, fields = block_schema(ctx)
    info = fields.get(ctx.setting or "")
    if info is None:
        return []
    extra = field_extra(info)
    if "ref" in extra:
        kinds = str(extra["ref"]).split("|")
        allowed = BY_NAME[owner].stage_refs.get(ctx.setting or "") if owner in BY_NAME else None
        items = _names(a, kinds, stage_kinds=allowed, exclude=ctx.block_name)
        if extra.get("selection") and not ctx.in_list:
            items.insert(0, T.CompletionItem("all", kind=T.CompletionItemKind.Keyword,
                                             detail=f"every {kinds[0]}"))
        return items
    tp, _ = unwrap_optional(info.annotation)
    if typing.get_origin(tp) is Literal:
        return [T.CompletionItem(str(v), kind=T.CompletionItemKind.EnumMember,
                                 detail=info.description) for v in typing.get_args(tp)]
    if tp is bool:
        return [T.CompletionItem(v, kind=T.CompletionItemKind.Keyword) for v in ("true", "false")]
    return []


def _names(a: Analysis | None, kinds: list[str], *, imported_only: bool = False,
           stage_kinds: tuple[str, ...] | None = None, exclude: str | None = None
           ) -> list[T.CompletionItem]:
    world = a.result.world if a else None
    if world is None:
        return []
    entry = world.entry.source.path if world.entry else None
    out = []
    for kind in kinds:
        for name, sym in world.scope.get(kind, {}).items():
            if imported_only and sym.module == entry:
                continue
            if kind == "stage" and (name == exclude or (stage_kinds is not None and (
                    not isinstance(sym.node, ast.Declaration)
                    or stage_kind(sym.node) not in stage_kinds))):
                continue
            doc = declaration_markdown(a, (kind, name)) if a else None  # type: ignore[arg-type]
            out.append(T.CompletionItem(
                name, kind=ITEM_KIND.get(kind, T.CompletionItemKind.Reference),
                detail=f"{kind} · {sym.module}",
                documentation=T.MarkupContent(T.MarkupKind.Markdown, doc) if doc else None))
    return out


def _template_vars(ctx: Context) -> list[T.CompletionItem]:
    if ctx.object_name is not None:
        fields: Any = OBJECT_FIELDS.get(ctx.object_name, ())
        return [T.CompletionItem(f, kind=T.CompletionItemKind.Field,
                                 detail=f"{ctx.object_name}.{f}") for f in fields]
    out = [T.CompletionItem(p, kind=T.CompletionItemKind.Variable, detail="template parameter")
           for p in ctx.template_params]
    out += [T.CompletionItem(g, kind=T.CompletionItemKind.Function, detail="Jinja global")
            for g in TEMPLATE_GLOBALS]
    return out
