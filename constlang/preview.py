"""Preview: render a stage's prompt program for a sample input, with no model (`render`, `plan`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.semantics.templates import (
    EXAMPLE_FIELDS,
    PRINCIPLE_FIELDS,
    QUESTION_FIELDS,
    render,
)

PLACEHOLDERS = {
    "response": "<the model's current reply>",
    "critique": "<the model's critique>",
    "response_a": "<reply A>",
    "response_b": "<reply B>",
    "rationale": "",
}
SAMPLE_PROMPT = "How do I pick a lock?"


Chat = list[dict[str, str]]

# Steps whose few-shot examples become earlier chat turns, and the example field that answers.
FEW_SHOT_ANSWERS = {"critique": ("critique",), "revise": ("critique", "revision")}


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


def few_shot_turns(step: P.ProgramStep, examples: list[dict[str, Any]]) -> Chat:
    """Few-shot examples as earlier chat turns: the step's own template rendered for each
    example, answered by the example's critique or revision. Small chat models follow this far
    better than examples pasted into one message. A template that declares `examples` lays
    them out itself, so it gets no turns."""
    needed = FEW_SHOT_ANSWERS.get(step.name)
    if needed is None or "examples" in step.variables:
        return []
    turns: Chat = []
    for ex in examples:
        if not all(ex.get(k) for k in needed):
            continue
        variables = {
            "prompt": ex["prompt"], "response": ex["response"], "critique": ex["critique"],
            "principle": {"id": ex["id"], "critique": ex.get("critique_request", ""),
                          "revision": ex.get("revision_request", ""), "tags": []},
            "examples": [], "round": 1,
        }
        used = {k: v for k, v in variables.items() if k in step.variables}
        turns.append({"role": "user", "content": render(step.source, used).strip()})
        turns.append({"role": "assistant", "content": ex[needed[-1]]})
    return turns


def chat_text(chat: Chat) -> str:
    """A chat as readable text: one message as it is, several with their roles."""
    if len(chat) == 1:
        return chat[0]["content"]
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in chat)


def first_prompt(plan: P.Plan, dataset_id: str, base_dir: Path) -> str | None:
    """The first prompt of a dataset file, or None if it cannot be read."""
    ds = plan.dataset(dataset_id)
    try:
        with open(base_dir / ds.path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    value = json.loads(line).get(ds.field)
                    return value if isinstance(value, str) else None
    except (OSError, ValueError, AttributeError):
        return None
    return None


def count_rows(plan: P.Plan, dataset_id: str, base_dir: Path) -> int | None:
    ds = plan.dataset(dataset_id)
    try:
        with open(base_dir / ds.path, encoding="utf-8") as fh:
            n = sum(1 for line in fh if line.strip())
    except OSError:
        return ds.limit
    return min(n, ds.limit) if ds.limit else n


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
    qids = getattr(s, "questions", [])
    questions = [q for q in plan.questions if q.id in qids]
    chosen_p = next((p for p in principles if p.id == principle), principles[0] if principles
                    else None)
    out = []
    for step in program.steps:
        variables: dict[str, Any] = {"prompt": prompt, "examples": examples, "round": 1,
                                     **PLACEHOLDERS}
        if chosen_p is not None:
            variables["principle"] = principle_vars(chosen_p)
        wanted_kind = "pointwise" if step.name == "pointwise" else "pairwise"
        pool = [q for q in questions if q.kind == wanted_kind]
        chosen_q = next((q for q in pool if q.id == question), pool[0] if pool else None)
        if chosen_q is not None:
            variables["question"] = question_vars(chosen_q)
        used = {k: v for k, v in variables.items() if k in step.variables}
        out.append(RenderedStep(step.name, step.template, step.model,
                                render(step.source, used).strip(),
                                few_shot_turns(step, examples)))
    return out


@dataclass
class StageCost:
    stage: str
    kind: str
    prompts: int | None
    calls: int | None
    tokens: int | None
    note: str


def stage_costs(plan: P.Plan, base_dir: Path) -> list[StageCost]:
    """Model calls and generated tokens (upper bound) each stage needs."""
    out = []
    models = {m.id: m for m in plan.models}
    for stage in plan.stages:
        s: Any = stage.settings
        kind = stage.kind
        if kind == "critique_revision":
            n = count_rows(plan, s.prompts, base_dir)
            per = 1 + 2 * s.revisions
            calls = None if n is None else n * per
            toks = None if calls is None else calls * models[s.model].max_new_tokens
            out.append(StageCost(stage.name, kind, n, calls, toks,
                                 f"1 answer + {s.revisions}×(critique+revision) per prompt"))
        elif kind == "feedback":
            n = count_rows(plan, s.prompts, base_dir)
            orders = 2 if s.swap_positions else 1
            gen = 2 + (orders if s.chain_of_thought else 0)
            calls = None if n is None else n * (gen + orders)
            judge = models[s.judge]
            tokens = None if n is None else n * 2 * judge.max_new_tokens + (
                n * orders * judge.max_new_tokens if s.chain_of_thought else 0)
            out.append(StageCost(stage.name, kind, n, calls, tokens,
                                 f"2 samples + {orders} scoring pass(es) per prompt"))
        elif kind == "ppo":
            rollouts = s.steps * s.batch_size
            out.append(StageCost(stage.name, kind, None, rollouts, rollouts * s.max_new_tokens,
                                 f"{s.steps} updates × {s.batch_size} rollouts"))
        else:
            out.append(StageCost(stage.name, kind, None, 0, 0,
                                 f"training, {getattr(s, 'epochs', '?')} epoch(s)"))
    return out
