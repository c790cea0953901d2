"""CL501 prompt-exceeds-context: a step's prompt, plus what it generates, overflows its model."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from constlang import plan as P
from constlang.errors import Severity
from constlang.kinds import BY_NAME
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.prompts import (
    dataset_tags,
    example_vars,
    few_shot_turns,
    principle_vars,
    question_vars,
)
from constlang.semantics.templates import TemplateRenderError, file_line, render
from constlang.span import Span
from constlang.syntax import ast

CHARS_PER_TOKEN = 4  # English text under a BPE tokenizer, roughly
PROMPT_TOKENS = 256  # allowance for the user prompt, which lint does not read
GENERATED = ("response", "critique", "response_a", "response_b", "rationale")


def _longest(items: list[Any], *fields: str) -> Any:
    return max(items, key=lambda x: sum(len(getattr(x, f)) for f in fields), default=None)


def _variables(plan: P.Plan, stage: Any, step: P.ProgramStep) -> dict[str, Any]:
    s = stage.settings
    chosen = set(getattr(s, "examples", []))
    out: dict[str, Any] = {name: "" for name in GENERATED}
    out.update(prompt="", round=1, tags=dataset_tags(plan, s),
               examples=[example_vars(e) for e in plan.examples if e.id in chosen])
    chosen_p = set(getattr(s, "principles", []))
    principles = [p for p in plan.principles if p.id in chosen_p]
    if principles:
        out["principle"] = principle_vars(_longest(principles, "critique", "revision"))
    kind = "pointwise" if step.name == "pointwise" else "pairwise"
    chosen_q = set(getattr(s, "questions", []))
    questions = [q for q in plan.questions if q.id in chosen_q and q.kind == kind]
    if questions:
        out["question"] = question_vars(_longest(questions, "text"))
    return out


def _budget(ctx: LintContext, stage: Any, step: P.ProgramStep
            ) -> tuple[int, P.Model] | TemplateRenderError | None:
    """Estimated tokens of the step's longest prompt plus its output, and the model it runs on;
    or why the template cannot be rendered."""
    model = ctx.policy_model(step.model)
    if model is None:
        return None
    try:
        return _tokens(ctx, stage, step, model)
    except TemplateRenderError as exc:
        return exc


def _tokens(ctx: LintContext, stage: Any, step: P.ProgramStep, model: P.Model
            ) -> tuple[int, P.Model]:
    text = render(step.source, _variables(ctx.plan, stage, step))
    s = stage.settings
    policy = ctx.policy_model(s.policy) if stage.kind == "feedback" else None
    out_tokens = getattr(s, "max_new_tokens", None) if stage.kind == "ppo" else None
    chosen = set(getattr(s, "examples", []))
    examples = [example_vars(e) for e in ctx.plan.examples if e.id in chosen]
    turns = few_shot_turns(stage.kind, step, examples)
    text += "".join(t["content"] for t in turns) + (getattr(s, "system", None) or "")
    total = math.ceil(len(text) / CHARS_PER_TOKEN) + PROMPT_TOKENS
    for name in GENERATED:
        if name in step.variables:
            producer = policy if name.startswith("response") and policy else model
            total += producer.max_new_tokens
    total += (out_tokens or model.max_new_tokens) if step.mode == "generate" else 1
    return total, model


def check(ctx: LintContext) -> Iterator[Finding]:
    for program in ctx.plan.programs:
        stage = ctx.plan.stage(program.stage)
        settings = {spec.name: spec.template_setting for spec in BY_NAME[stage.kind].steps}
        for step in program.steps:
            budget = _budget(ctx, stage, step)
            if budget is None:
                continue
            sym = ctx.symbol("template", step.template)
            span = sym.node.name_span if sym and ctx.in_file(sym.node.name_span) else \
                ctx.value_span(ctx.stage_symbol(stage), settings[step.name])
            if isinstance(budget, TemplateRenderError):
                if sym is not None and ctx.in_file(sym.node.name_span) and \
                        isinstance(sym.node, ast.Template):  # the file line where it failed
                    at = file_line(sym.node.body, budget.line or 1)
                    text = ctx.source.line_text(at)
                    indent = len(text) - len(text.lstrip())
                    span = Span(span.file, at, indent + 1, at, max(indent + 2, len(text) + 1))
                yield Finding(f"template `{step.template}` cannot be rendered for the "
                              f"{step.name} step of stage `{stage.name}`: {budget.reason}", span,
                              "`constlang render` shows the same error; keep the template "
                              "within the sandbox's limits (SECURITY.md)")
                continue
            tokens, model = budget
            window = ctx.context_window(model)
            if window is None or tokens <= window:
                continue
            yield Finding(f"the {step.name} prompt of stage `{stage.name}` can reach about "
                          f"{tokens:,} tokens with its output, over the {window:,}-token "
                          f"context of model `{model.id}`", span,
                          "shorten the template or the examples it shows, lower "
                          "`max_new_tokens`, or use a model with a longer context")


RULE = Rule(
    code="CL501", name="prompt-exceeds-context", category="training",
    severity=Severity.WARNING,
    summary="A template whose rendered prompt, for the stage's model, would exceed that "
    "model's context.",
    rationale="Critique and revision prompts grow with every few-shot example, the longest "
    "principle and the replies they quote; past the context window the runtime truncates "
    "from the left and the model loses the instructions it was meant to follow. Lint renders "
    "each step with its longest principle or question and every selected example, and "
    "counts about 4 characters a token, 256 tokens for the user prompt and `max_new_tokens` "
    "for each reply it quotes and for its own output. The window is the model's "
    "`context_length` (8192 for the embedded model).",
    bad='''model assistant { source = "embedded:smollm2-135m-instruct"  max_new_tokens = 4096 }
stage critique_revision { model = assistant  prompts = d }''',
    good='''model assistant { source = "embedded:smollm2-135m-instruct"  max_new_tokens = 256 }
stage critique_revision { model = assistant  prompts = d }''',
    check=check,
)
