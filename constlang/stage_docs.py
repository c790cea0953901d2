"""Docs: each stage kind's settings table, generated from its settings class into its docs page.

Regenerate with `python -m constlang.stage_docs --write`; a test fails when a page drifts.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from constlang.kinds import KINDS, StageKind
from constlang.semantics.fields import field_bounds, fields_of, type_word, unwrap_optional

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
BEGIN = "<!-- settings:begin (generated: python -m constlang.stage_docs --write) -->"
END = "<!-- settings:end -->"


def _default(kind: StageKind, name: str, info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("selection") or info.default_factory is not None:
        factory: Any = info.default_factory
        value = factory() if factory else []
        return "`all`" if value == ["all"] else "none" if not value else f"`{value}`"
    if info.is_required():
        return "(required)"
    if name == "model" and kind.default_model is not None:
        upstream, setting = kind.default_model
        return f"the `{upstream}` stage's `{setting}`"
    value = info.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _type(kind: StageKind, name: str, info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    ref = str(extra.get("ref", ""))
    if ref:
        words = [" or ".join(kind.stage_refs[name]) + " stage" if part == "stage"
                 and name in kind.stage_refs else part for part in ref.split("|")]
        names = " or ".join(words)
        if extra.get("selection"):
            return f"`all` or a list of {names} names"
        if extra.get("many"):
            return f"the name of a {names}, or a list of them"
        return f"the name of a {names}"
    return value_type(info)


def value_type(info: FieldInfo) -> str:
    """A plain field's type in words, with its numeric bounds (lists: their item type)."""
    tp, _ = unwrap_optional(info.annotation)
    if typing.get_origin(tp) is list:
        return type_word(tp)
    word = type_word(tp)
    bounds = " and ".join(words for _, words in field_bounds(info))
    return f"{word}, {bounds}" if bounds else word


def settings_table(kind: StageKind) -> str:
    """The Markdown table of a kind's settings: name, type and range, default, meaning."""
    lines = ["| setting | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in fields_of(kind.settings).items():
        meaning = (info.description or "").replace("|", "\\|")
        cells = [f"`{name}`", _type(kind, name, info), _default(kind, name, info), meaning]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def served_note(kind: StageKind) -> str:
    """Which of a kind's model settings may name a served model (docs/scale.md)."""
    def kinds_of(info: FieldInfo) -> list[str]:
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        return str(extra.get("ref", "")).split("|")

    models = [name for name, info in fields_of(kind.settings).items() if "model" in kinds_of(info)]
    served = [f"`{n}`" for n in models if n not in kind.local_models]
    local = [f"`{n}` ({why})" for n, why in kind.local_models.items()]
    parts = []
    if served:
        parts.append("May name a served model (an `endpoint`, docs/scale.md): "
                     f"{', '.join(served)}.")
    if local:
        parts.append(f"Must name local weights, not a served model (E119): {', '.join(local)}.")
    return "\n\n" + " ".join(parts) if parts else ""


def generated_block(kind: StageKind) -> str:
    return f"{BEGIN}\n{settings_table(kind)}{served_note(kind)}\n{END}"


def page_with_table(text: str, kind: StageKind) -> str | None:
    """The page text with its settings block regenerated; None when it has no block."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[:start] + generated_block(kind) + text[end + len(END):]


def main(argv: list[str]) -> int:
    write = "--write" in argv
    stale = []
    for kind in KINDS:
        path = DOCS_DIR / kind.docs
        text = path.read_text("utf-8")
        new = page_with_table(text, kind)
        if new is None:
            print(f"{path}: no settings block ({BEGIN})", file=sys.stderr)
            return 1
        if new != text:
            stale.append(path)
            if write:
                path.write_text(new, "utf-8")
    for path in stale:
        print(f"{'updated' if write else 'out of date'}: {path}")
    return 0 if write or not stale else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
