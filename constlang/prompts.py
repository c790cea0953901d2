"""Prompts: the variables each program step receives, few-shot turns and rendering, in one place.

The runtime's stages and `constlang render` build every prompt here, so what a step receives is
what its kind's record (`constlang.kinds`) says it provides; a drift is an error, not a silent
change of prompts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constlang import plan as P
from constlang.errors import UserError
from constlang.kinds import BY_NAME, StepSpec
from constlang.semantics.templates import (
    EXAMPLE_FIELDS,
    PRINCIPLE_FIELDS,
    QUESTION_FIELDS,
    TemplateRenderError,
    render,
)

PLACEHOLDERS = {
    "response": "<the model's current reply>",
    "critique": "<the model's critique>",
    "response_a": "<reply A>",
    "response_b": "<reply B>",
    "rationale": "",
}


Chat = list[dict[str, str]]



@dataclass
class RenderedStep:
    step: str
    template: str
    model: str
    text: str  # the final user turn
    few_shot: Chat = field(default_factory=list)  # example turns sent before it

    @property
    def messages(self) -> Chat:
        return [*self.few_shot, {"role": "user", "content": self.text}]


def _fields(obj: P.Strict, names: tuple[str, ...]) -> dict[str, Any]:
    data = obj.model_dump(include=set(names))
    return {name: data[name] for name in names}


def principle_vars(p: P.Principle) -> dict[str, Any]:
    return _fields(p, PRINCIPLE_FIELDS)


def question_vars(q: P.Question) -> dict[str, Any]:
    return _fields(q, QUESTION_FIELDS)


def example_vars(e: P.Example) -> dict[str, Any]:
    return _fields(e, EXAMPLE_FIELDS)


def few_shot_turns(kind: str, step: P.ProgramStep, examples: list[dict[str, Any]]) -> Chat:
    """Few-shot examples as earlier chat turns: the step's own template rendered for each
    example, answered by the example's critique or revision. Small chat models follow this far
    better than examples pasted into one message. A template that declares `examples` lays
    them out itself, so it gets no turns."""
    needed = step_spec(kind, step.name).few_shot
    if not needed or "examples" in step.variables:
        return []
    turns: Chat = []
    for ex in examples:
        if not all(ex.get(k) for k in needed):
            continue
        variables = {
            "prompt": ex["prompt"], "response": ex["response"], "critique": ex["critique"],
            "principle": {"id": ex["id"], "critique": ex.get("critique_request", ""),
                          "revision": ex.get("revision_request", ""), "tags": []},
            "examples": [], "round": 1, "tags": [],
        }
        used = {k: v for k, v in variables.items() if k in step.variables}
        turns.append({"role": "user", "content": render(step.source, used).strip()})
        turns.append({"role": "assistant", "content": ex[needed[-1]]})
    return turns


def judge_turns(step: P.ProgramStep, examples: list[dict[str, Any]],
                question: dict[str, Any]) -> Chat:
    """Few-shot turns for a judge's `compare` or `pointwise` step: each example with a `worse`
    reply, asked the question through the step's own template and answered with the right
    option. Pairwise examples alternate which slot holds the better reply, so the turns do not
    teach a position; pointwise ones are asked about each reply. A template that declares
    `examples` lays them out itself, so it gets no turns."""
    if "examples" in step.variables:
        return []
    options, good = question["options"], question.get("good_answer") or question["options"][-1]
    bad = next((o for o in options if o != good), options[0])
    turns: Chat = []
    for n, ex in enumerate(e for e in examples if e.get("worse")):
        if step.name == "compare":
            first = n % 2 == 0
            a, b = (ex["response"], ex["worse"]) if first else (ex["worse"], ex["response"])
            asks = [({"response_a": a, "response_b": b}, options[0 if first else 1])]
        else:
            asks = [({"response": ex["response"]}, good), ({"response": ex["worse"]}, bad)]
        for values, answer in asks:
            variables = {"prompt": ex["prompt"], "question": question, "rationale": "",
                         "examples": [], **values}
            used = {k: v for k, v in variables.items() if k in step.variables}
            turns.append({"role": "user", "content": render(step.source, used).strip()})
            turns.append({"role": "assistant", "content": answer})
    return turns


def chat_text(chat: Chat) -> str:
    """A chat as readable text: one message as it is, several with their roles."""
    if len(chat) == 1:
        return chat[0]["content"]
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in chat)


def render_stage(plan: P.Plan, stage_name: str, prompt: str, principle: str | None = None,
                 question: str | None = None) -> list[RenderedStep]:
    """The exact prompts each step of a stage's program sends for one input."""
    stage: Any = plan.stage(stage_name)
    program = plan.program(stage_name)
    s: Any = stage.settings
    examples_ids = getattr(s, "examples", [])
    examples = [example_vars(e) for e in plan.examples if e.id in examples_ids]
    pids = getattr(s, "principles", [])
    principles = [p for p in plan.principles if p.id in pids]
    chosen_p = next((p for p in principles if p.id == principle), principles[0] if principles
                    else None)
    out = []
    for step in program.steps:
        variables: dict[str, Any] = {"prompt": prompt, "examples": examples, "round": 1,
                                     "tags": dataset_tags(plan, s), **PLACEHOLDERS}
        if chosen_p is not None:
            variables["principle"] = principle_vars(chosen_p)
        spec = step_spec(stage.kind, step.name)
        qids = asked_questions(stage, spec)
        pool = [q for q in plan.questions if q.id in qids and q.kind == spec.question_kind]
        chosen_q = next((q for q in pool if q.id == question), pool[0] if pool else None)
        if chosen_q is not None:
            variables["question"] = question_vars(chosen_q)
        elif "question" in spec.provides:
            continue  # e.g. a rationale with only pointwise questions: the step never runs
        provided = step_variables(stage.kind, step.name, variables)
        used = {k: v for k, v in provided.items() if k in step.variables}
        try:
            out.append(RenderedStep(step.name, step.template, step.model,
                                    render(step.source, used).strip(),
                                    few_shot_turns(stage.kind, step, examples)))
        except TemplateRenderError as exc:  # say which template, and where in its text
            raise TemplateRenderError(exc.reason, exc.line, step.template, step.name) from None
    return out


def dataset_tags(plan: P.Plan, settings: Any) -> list[str]:
    """The tags the stage's prompt datasets declare (a preview's prompt carries them)."""
    value = getattr(settings, "prompts", None) or []
    wanted = [value] if isinstance(value, str) else list(value)
    return sorted({t for d in plan.datasets if d.id in wanted for t in d.tags})


class RenderError(UserError):
    """A program step's template failed to render; the message names the stage and step."""


def step_spec(kind: str, step: str) -> StepSpec:
    """The registry's record of a step of a stage kind."""
    for spec in BY_NAME[kind].steps:
        if spec.name == step:
            return spec
    raise KeyError(f"stage kind `{kind}` has no `{step}` step")


def asked_questions(stage: Any, spec: StepSpec | None = None) -> list[str]:
    """The ids of the questions a stage asks: in one step (`spec`), or in all its steps. Each
    step names the setting they come from: one question, or a selection."""
    specs = [spec] if spec else list(BY_NAME[stage.kind].steps)
    ids: list[str] = []
    for one in specs:
        asked = getattr(stage.settings, one.question_setting or "", None) or []
        ids += [i for i in ([asked] if isinstance(asked, str) else asked) if i not in ids]
    return ids


def find_step(program: P.Program, name: str) -> P.ProgramStep:
    for step in program.steps:
        if step.name == name:
            return step
    raise RenderError(f"stage `{program.stage}`: the plan's program has no `{name}` step")


def step_variables(kind: str, step: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the variables the step provides, taken from `values`.

    Raises KeyError naming what is missing, so a stage that stops passing a variable its
    kind's record promises fails loudly instead of rendering a different prompt.
    """
    provides = step_spec(kind, step).provides
    missing = [name for name in provides if name not in values]
    if missing:
        raise KeyError(f"the {step} step of a {kind} stage provides {', '.join(missing)}, "
                       "but no value was given")
    return {name: values[name] for name in provides}


def render_step(stage: str, kind: str, step: P.ProgramStep, values: Mapping[str, Any]) -> str:
    """The step's template rendered with the variables it declares, out of those the step
    provides (see `step_variables`)."""
    provided = step_variables(kind, step.name, values)
    declared = {k: v for k, v in provided.items() if k in step.variables}
    try:
        return render(step.source, declared).strip()
    except TemplateRenderError as exc:  # the runner names the stage; this names the .const line
        place = template_place(step, exc.line)
        raise RenderError(f"{place + ': ' if place else ''}step `{step.name}` (template "
                          f"`{step.template}`): {exc}") from None


def template_place(step: P.ProgramStep, line: int | None) -> str | None:
    """`file:line` of the .const file where a step's template failed: the line of its text
    that failed when known, else its declaration; None for a plan without locations."""
    where = step.location
    if where is None:
        return None
    return f"{where.file}:{where.text_line + line - 1 if line else where.line}"
