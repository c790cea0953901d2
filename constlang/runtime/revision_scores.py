"""Critique/revision stage, the judge's verdicts: its probability of a good answer for every
first answer and revision, which `drop_worse` and revision_pairs' `weights = judge` read."""

from __future__ import annotations

from typing import Any

from constlang import plan as P
from constlang.prompts import question_vars, render_step
from constlang.runtime.engine import OptionScorer
from constlang.runtime.preferences import option_probability


def score_rows(judge: OptionScorer, rows: list[dict[str, Any]], *, stage: Any,
               step: P.ProgramStep, question: P.Question,
               examples: list[dict[str, Any]]) -> None:
    """The judge's probability of its good answer for each row's first answer
    (`initial_score`) and each round's revision (`revision_score`), in one scoring call."""
    q = question
    texts = [(row, None) for row in rows] + [
        (row, r) for row in rows for r in row["rounds"] if not r["skipped"]]
    prompts = [[{"role": "user", "content": render_step(
        stage.name, stage.kind, step,
        {"prompt": row["prompt"], "response": r["revision"] if r else row["initial"],
         "question": question_vars(q), "examples": examples})}] for row, r in texts]
    good = q.options.index(q.good_answer or q.options[-1])
    scores = judge.score_options(prompts, list(q.options))
    for (row, r), logprobs in zip(texts, scores, strict=True):
        p = round(option_probability([float(x) for x in logprobs], good), 6)
        if r is None:
            row["initial_score"] = p
        else:
            r["revision_score"] = p
    for row in rows:  # a skipped round keeps the reply, and so its score
        last = row["initial_score"]
        for r in row["rounds"]:
            if r["skipped"]:
                r["revision_score"] = last
            last = r["revision_score"]
