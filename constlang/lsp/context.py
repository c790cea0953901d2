"""Context: where the cursor is in a (possibly broken) buffer — top level, a block's field
name, a setting's value, a template expression — found by scanning text, not by parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SCAN = re.compile(r'(?P<long>"""[\s\S]*?(?:"""|\Z))|(?P<str>"(?:[^"\\\n]|\\.)*(?:"|(?=\n)|\Z))'
                   r"|(?P<comment>#[^\n]*)|(?P<open>\{)|(?P<close>\})")
_HEADER = re.compile(r"(?:\b(override)\s+)?\b(principle|check|question|example|model|dataset|stage"
                     r"|constitution)\s+(\w+|\"[^\"\n]*\")\s*\Z")
_TEMPLATE = re.compile(r"\btemplate\s+(\w+)\s*\(([^)]*)\)\s*\Z")
_FIELD_SET = re.compile(r"(?m)^\s*(\w+)\s*=")


@dataclass
class Context:
    """What the text before the cursor says about the cursor's position."""

    where: str  # top | field | value | template | string | comment | drop | override
    prefix: str = ""  # the partial word before the cursor
    block_kind: str | None = None  # principle, ..., stage or constitution
    block_name: str | None = None
    block_text: str = ""  # the block's text, to find its `kind` and the fields already set
    setting: str | None = None  # for `value`: the setting being assigned
    in_list: bool = False
    template_params: list[str] = field(default_factory=list)
    object_name: str | None = None  # for `template`: the name before a `.`
    decl_kind: str | None = None  # for `drop` and `override`: the declaration keyword

    @property
    def fields_set(self) -> set[str]:
        return set(_FIELD_SET.findall(self.block_text))

    @property
    def stage_kind_word(self) -> str | None:
        m = re.search(r"(?m)^\s*kind\s*=\s*\"?(\w+)", self.block_text)
        return m.group(1) if m else self.block_name


def context_at(text: str, offset: int) -> Context:
    before = text[:offset]
    prefix = re.search(r"\w*\Z", before).group(0)  # type: ignore[union-attr]
    depth, block_start, header = 0, 0, None
    last = None
    for m in _SCAN.finditer(before):
        last = m
        kind = m.lastgroup
        if kind == "open":
            if depth == 0:
                header = _HEADER.search(before, max(0, m.start() - 200), m.start())
                block_start = m.start()
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
    if last is not None and last.end() == len(before):
        group = last.lastgroup
        body = last.group(0)
        unclosed = (group == "long" and (len(body) < 6 or not body.endswith('"""'))) or (
            group == "str" and (len(body) < 2 or not body.endswith('"')))
        if group == "comment":
            return Context("comment", prefix)
        if unclosed:
            tpl = _TEMPLATE.search(before, max(0, last.start() - 300), last.start())
            inner = before[last.start():]
            opened = inner.rfind("{{")
            if tpl and opened > inner.rfind("}}"):
                obj = re.search(r"(\w+)\.\w*\Z", inner)
                params = [p.strip() for p in tpl.group(2).split(",") if p.strip()]
                return Context("template", prefix, template_params=params,
                               object_name=obj.group(1) if obj else None)
            return Context("string", prefix)
    line = before[before.rfind("\n") + 1:]
    if depth == 0:
        word = re.search(r"\b(drop|override)\s+(\w+)\s+\w*\Z", line)
        if word and word.group(2) in ("principle", "check", "question", "example", "model",
                                      "dataset", "stage", "template"):
            return Context(word.group(1), prefix, decl_kind=word.group(2))
        return Context("top", prefix)
    end = text.find("}", offset)
    ctx = Context("field", prefix)
    if header is not None:
        ctx.block_kind = header.group(2)
        ctx.block_name = header.group(3).strip('"')
    ctx.block_text = text[block_start:end if end >= 0 else len(text)]
    assign = re.search(r"(\w+)\s*=\s*(\[[^\]]*)?\w*\Z", before[block_start:])
    if assign:
        ctx.where = "value"
        ctx.setting = assign.group(1)
        ctx.in_list = assign.group(2) is not None
    elif not re.fullmatch(r"\s*\w*", line) and not re.search(r"[\s{]\w*\Z", before):
        ctx.where = "none"
    return ctx
