"""Hover: what a name refers to, what a setting means, and what a stage reads, writes and costs."""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo

from constlang.kinds import BY_NAME, SETTINGS_BY_KIND
from constlang.lsp.analysis import Analysis
from constlang.lsp.checks import check_markdown, checker_markdown
from constlang.lsp.index import Key, Setting, stage_kind
from constlang.semantics.fields import field_extra, range_words, type_word, unwrap_optional
from constlang.syntax import ast

MAX_TEXT = 600  # characters of a long string shown in a hover


def hover_at(a: Analysis, display: str, offset: int) -> tuple[str, Any] | None:
    """(markdown, span) to show for the offset, or None."""
    index = a.index
    if index is None:
        return None
    occ = index.occurrence_at(display, offset)
    if occ is not None:
        text = declaration_markdown(a, occ.key)
        return (text, occ.span) if text else None
    setting = index.setting_at(display, offset)
    if setting is not None:
        return setting_markdown(setting), setting.span
    named = _checker_at(a, display, offset)
    if named is not None:
        return checker_markdown(named[0]), named[1]
    return None


def _checker_at(a: Analysis, display: str, offset: int) -> tuple[str, Any] | None:
    """The checker named by the `checker = ...` value under the cursor, with its span."""
    fi = a.index.files.get(display) if a.index else None
    for s in fi.settings if fi else ():
        v = s.value
        if (s.owner_kind == "check" and s.name == "checker" and isinstance(v, (ast.Ref, ast.Str))
                and v.span.start <= offset <= v.span.end):
            return (v.name if isinstance(v, ast.Ref) else v.value), v.span
    return None


def _short(value: str) -> str:
    value = value.strip()
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT - 1] + "…"


def _value_text(v: ast.Value) -> str:
    if isinstance(v, ast.Str):
        return _short(v.value)
    if isinstance(v, ast.List):
        return "[" + ", ".join(_value_text(x) for x in v.items) + "]"
    if isinstance(v, ast.Bool):
        return "true" if v.value else "false"
    if isinstance(v, ast.Number):
        return v.text
    return v.name


def declaration_markdown(a: Analysis, key: Key) -> str | None:
    world = a.result.world
    if world is None:
        return None
    kind, name = key
    sym = world.scope.get(kind, {}).get(name)
    if sym is None:
        return f"**{kind} `{name}`**\n\nnot declared (or dropped) in this constitution"
    node = sym.node
    where = f"*declared in {sym.module}, line {node.name_span.line}*"
    if sym.overridden_by:
        where += f" · overridden in {', '.join(o.name_span.file for o in sym.overridden_by)}"
    if isinstance(node, ast.Template):
        params = ", ".join(p.name for p in node.params)
        return (f"**template `{name}`**({params})\n\n{where}\n\n```jinja\n"
                f"{_short(node.body.value)}\n```")
    lines = [f"**{kind} `{name}`**", "", where, ""]
    shown = {"principle": ("critique", "revision", "weight", "tags"),
             "question": ("text", "kind", "options", "good_answer", "weight"),
             "example": ("prompt", "response", "critique", "revision")}.get(kind)
    fields = {f.name: f for f in node.fields}
    if kind == "stage":
        return _stage_markdown(a, node, lines)
    if kind == "check":
        return check_markdown(node, lines, _value_text)
    if kind == "question" and "kind" not in fields:
        lines.append("- **kind**: pairwise (default)")
    for fname in shown or fields:
        if fname in fields:
            lines.append(f"- **{fname}**: {_value_text(fields[fname].value)}")
    return "\n".join(lines)


def _stage_markdown(a: Analysis, node: Any, lines: list[str]) -> str:
    assert isinstance(node, ast.Declaration)
    kind = stage_kind(node)
    if kind is None:
        lines.append("unknown stage kind")
        return "\n".join(lines)
    record = BY_NAME[kind]
    lines[0] = f"**stage `{node.name}`** · {kind}"
    lines += [record.summary, ""]
    reads = []
    for f in node.fields:
        info = SETTINGS_BY_KIND[kind].model_fields.get(f.name) or _by_alias(kind, f.name)
        if info is not None and "ref" in field_extra(info):
            reads.append(f"`{f.name}` = {_value_text(f.value)}")
    lines.append("**reads**: " + (", ".join(reads) if reads else "nothing named"))
    world = a.result.world
    consts = world.constitution.name.value if world and world.constitution else "NAME"
    readers = [n for n, s in (world.scope.get("stage", {}) if world else {}).items()
               if isinstance(s.node, ast.Declaration) and any(
                   isinstance(f.value, ast.Ref) and f.value.name == node.name
                   for f in s.node.fields)]
    lines.append(f"**writes**: `runs/{consts}/{node.name}/` (manifest.json and its artifacts)"
                 + (f"; read by {', '.join(f'`{r}`' for r in readers)}" if readers else ""))
    cost = a.stage_costs().get(node.name)
    if cost is not None:
        def n(v: int | None) -> str:
            return "?" if v is None else f"{v:,}"
        lines.append(f"**estimate**: {n(cost.prompts)} prompts, {n(cost.calls)} model calls, "
                     f"≤ {n(cost.tokens)} generated tokens — {cost.note}")
    else:
        lines.append("**estimate**: available once the file compiles without errors")
    lines.append(f"\nsee docs/{record.docs}")
    return "\n".join(lines)


def _by_alias(kind: str, name: str) -> FieldInfo | None:
    for info in SETTINGS_BY_KIND[kind].model_fields.values():
        if info.alias == name:
            return info
    return None


def setting_markdown(s: Setting) -> str:
    title = f"**{s.name}** · setting of {s.owner_kind}"
    if s.info is None:
        return f"{title}\n\nnot a setting of {s.owner_kind}"
    return f"{title}\n\n{describe_setting(s.owner_kind, s.name, s.info)}"


def describe_setting(owner_kind: str, name: str, info: FieldInfo) -> str:
    """Description, type, default and range of a setting, from the plan's schema."""
    from constlang.stage_docs import _default, _type

    record = BY_NAME.get(owner_kind)
    if record is not None:
        kind_type, default = _type(record, name, info), _default(record, name, info)
    else:
        extra = field_extra(info)
        tp, _ = unwrap_optional(info.annotation)
        kind_type = (f"the name of a {extra['ref'].replace('|', ' or ')}" if "ref" in extra
                     else type_word(tp))
        default = "(required)" if info.is_required() else (
            "none" if info.default is None else f"`{_plain(info)}`")
    out = [info.description or "", "", f"- **type**: {kind_type}", f"- **default**: {default}"]
    bounds = range_words(info)
    if bounds:
        out.append(f"- **range**: {bounds}")
    return "\n".join(out)


def _plain(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
