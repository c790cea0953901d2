"""Checker: E113, a stage setting (or the stage itself) without a setting it cannot work without."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constlang.errors import Diagnostics
from constlang.kinds.record import StageKind
from constlang.semantics.fields import fields_of
from constlang.span import Span


def given(value: Any) -> bool:
    """A setting's value is given: not left out, not an empty list."""
    return value is not None and value != []


def stage_needs(diags: Diagnostics, stage: str, kind: StageKind, values: Mapping[str, Any],
                spans: Mapping[str, Span], anchor: Span) -> bool:
    """Report each unmet entry of the kind's `needs` (E113); False when one is unmet.

    A key "setting=value" applies when the setting has that value (written or by default), a
    key "setting" when it is written, the key "" always; a need "a|b" is met by either
    written (a wrong value has its own error). A setting reported missing once is not
    reported again for the same stage."""
    fields, missing = fields_of(kind.settings), set[str]()
    for setting, (needed, what) in kind.needs.items():
        name, _, value = setting.partition("=")
        current = True if not name else values.get(
            name, fields[name].default if value else None)
        options = needed.split("|")
        met = any((o in spans and values.get(o) != []) or given(values.get(o)) for o in options)
        if not (current == value if value else current is not None) or met \
                or missing.intersection(options):
            continue
        missing.update(options)
        wanted = " or ".join(f"`{o}`" for o in options)
        said = f"stage `{stage}`"
        if name:
            said = (f"`{name} = {value}`" if value else f"`{name}`") \
                + (" (the default)" if name not in spans else "") + " of " + said
        diags.error("E113", f"{said} needs {wanted}", spans.get(name) or anchor,
                    f"set {wanted}: {what}")
    return not missing
