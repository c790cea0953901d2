"""Prompt rendering: a program step's template rendered with the variables it declares."""

from __future__ import annotations

from typing import Any

from constlang import plan as P
from constlang.semantics.templates import TemplateRenderError, render


class RenderError(Exception):
    """A program step's template failed to render; the message names the stage and step."""


def find_step(program: P.Program, name: str) -> P.ProgramStep:
    for step in program.steps:
        if step.name == name:
            return step
    raise RenderError(f"stage `{program.stage}`: the plan's program has no `{name}` step")


def render_step(stage: str, step: P.ProgramStep, variables: dict[str, Any]) -> str:
    """The step's template rendered with the variables it declares (extra ones are dropped)."""
    declared = {k: v for k, v in variables.items() if k in step.variables}
    try:
        return render(step.source, declared).strip()
    except TemplateRenderError as exc:
        raise RenderError(f"stage `{stage}`, step `{step.name}` (template "
                          f"`{step.template}`): {exc}") from None
