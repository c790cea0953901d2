"""CL310 template-drops-input: a stage's template leaves out what its step exists to show."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import nodes

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.semantics.templates import environment
from constlang.span import Span

# step → the inputs its template must show: a variable, or `variable.attribute`.
REQUIRED = {
    "respond": ("prompt",),
    "critique": ("response", "principle.critique"),
    "revise": ("response", "critique", "principle.revision"),
    "rationale": ("response_a", "response_b", "question.text"),
    "compare": ("response_a", "response_b", "question.text"),
    "pointwise": ("response", "question.text"),
}


def uses(source: str) -> set[str]:
    """Variables a template reads, and `var.attr` for each attribute it reads of one."""
    tree = environment().parse(source)
    out = {n.name for n in tree.find_all(nodes.Name)}
    for g in tree.find_all(nodes.Getattr):
        if isinstance(g.node, nodes.Name):
            out.add(f"{g.node.name}.{g.attr}")
    return out


def _bare(source: str, var: str) -> bool:
    """The template prints the variable whole (so every attribute reaches the model)."""
    tree = environment().parse(source)
    return any(isinstance(n, nodes.Name) and n.name == var
               for out in tree.find_all(nodes.Output) for n in out.nodes)


def _direct(step: Any, required: str) -> bool:
    """A revision template that does not declare `critique` is a direct revision (the CAI
    paper's variant without a written critique): leaving it out is the point."""
    return step.name == "revise" and required == "critique" and "critique" not in step.variables


def _where(ctx: LintContext, stage: Any, setting: str, template: str) -> Span:
    sym = ctx.symbol("template", template)
    if sym is not None and ctx.in_file(sym.node.name_span):
        return sym.node.name_span
    return ctx.value_span(ctx.stage_symbol(stage), setting)


def check(ctx: LintContext) -> Iterator[Finding]:
    from constlang.kinds import BY_NAME
    from constlang.prompts import step_spec

    for program in ctx.plan.programs:
        stage = ctx.plan.stage(program.stage)
        settings = {spec.name: spec.template_setting for spec in BY_NAME[stage.kind].steps}
        shows_examples = False
        for step in program.steps:
            used = uses(step.source)
            shows_examples = shows_examples or "examples" in used or (
                bool(step_spec(stage.kind, step.name).few_shot)
                and "examples" not in step.variables)
            missing = [r for r in REQUIRED.get(step.name, ()) if r not in used and not (
                "." in r and _bare(step.source, r.split(".")[0])) and not _direct(step, r)]
            if missing:
                yield Finding(f"template `{step.template}` of the {step.name} step of stage "
                              f"`{stage.name}` never shows "
                              + ", ".join(f"`{m}`" for m in missing),
                              _where(ctx, stage, settings[step.name], step.template),
                              "the step exists to show the model these; add them to the text")
        if getattr(stage.settings, "examples", None) and not shows_examples:
            yield Finding(f"stage `{stage.name}` selects examples, but none of its templates "
                          "shows `examples`", ctx.value_span(ctx.stage_symbol(stage), "examples"),
                          "render them in a template, or set `examples = []`")


RULE = Rule(
    code="CL310", name="template-drops-input", category="prompts", severity=Severity.WARNING,
    summary="A stage's template that leaves out an input its step exists to show.",
    rationale="Each step has inputs that make it what it is: a critique prompt must show the "
    "reply and the principle's critique request, a revision prompt the critique and the "
    "revision request, a comparison both replies and the question. A custom template that "
    "drops one still renders and still trains, on prompts that ignore the constitution. A "
    "revision template that does not declare `critique` is a direct revision, and is fine. "
    "Likewise examples selected for a stage whose templates never show them.",
    bad='''template my_critique(prompt, response) """
User: {{ prompt }}
Assistant: {{ response }}
What is wrong with this reply?
"""
stage critique_revision { model = m  prompts = d  critique_template = my_critique }''',
    good='''template my_critique(prompt, response, principle) """
User: {{ prompt }}
Assistant: {{ response }}
{{ principle.critique }}
"""
stage critique_revision { model = m  prompts = d  critique_template = my_critique }''',
    check=check,
)
