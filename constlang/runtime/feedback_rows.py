"""AI-feedback stage, one pair's row: which reply is chosen (by the judge, or by the checks where
they decide), its label and why it is left out, as a preference row (preference_rows)."""

from __future__ import annotations

from typing import Any

from constlang import plan as P
from constlang.checks.apply import passes_all
from constlang.prompts import Chat
from constlang.runtime import preferences as pref
from constlang.runtime.data import PromptRow
from constlang.runtime.generate import Generation
from constlang.runtime.preference_rows import drop_reason, make_row, orient
from constlang.runtime.reply_checks import CONFLICT_DROP, Ruling, Verdicts, pair_record, settle


def pair_row(job: Any, row: PromptRow, respond: Chat, samples: tuple[Generation, Generation],
             questions: list[P.Question], judgements: list[dict[str, Any]]) -> dict[str, Any]:
    """The preference row of one prompt of a feedback stage (`job`): the replies ordered by
    the judge's verdict, or by the checks where they decide (reply_checks.settle).

    With `check_conflicts = veto`, a pair the checks decide gets a hard label (p_chosen 1) and
    the judge's filters (tie, inconsistent, low_confidence) do not apply to it; p_judge keeps
    the judge's probability for the chosen reply. With `drop`, a pair the judge decided
    against the checks is dropped as `check_conflict`. The row gets a `checks` field when the
    stage has checks.
    """
    s = job.settings
    p_a = pref.weighted_mean([j["p_a"] for j in judgements], [q.weight for q in questions])
    a_chosen = p_a >= 0.5  # a tie keeps the sampling order
    ruling: Ruling = "judge"
    verdicts: list[Verdicts] = []
    if job.checks:
        named = [c for q in questions for c in q.checks]
        verdicts = [job.checks.verdicts(g.text, row.prompt, row.tags, named) for g in samples]
        a_passes, b_passes = (passes_all(v) for v in verdicts)
        a_chosen, ruling = settle(a_passes, b_passes, a_chosen, s.check_conflicts)
    chosen, rejected = samples if a_chosen else samples[::-1]
    p_judge = p_a if a_chosen else 1.0 - p_a
    oriented = [orient(j, a_chosen) for j in judgements]
    consistent = [j["consistent"] for j in oriented if j["consistent"] is not None]
    # a label the checks set (veto) or a pair they leave out is not the judge's to filter
    hard = ruling != "judge" and s.check_conflicts == "veto"
    by_checks = hard or ruling == "dropped"
    drop = drop_reason(finish=(chosen.finish, rejected.finish),
                       identical=chosen.text == rejected.text,
                       p_judge=1.0 if by_checks else p_judge,
                       consistent=None if by_checks or not consistent else all(consistent),
                       settings=s, chosen=chosen.text) or (
                           CONFLICT_DROP if ruling == "dropped" else None)
    out = make_row(
        index=row.index, prompt_id=row.prompt_id, prompt=respond, chosen=chosen.text,
        rejected=rejected.text, p_chosen=p_judge if s.labels == "soft" and not hard
        else 1.0, p_judge=p_judge, source=job.stage.kind, stage=job.stage.name,
        judge=job.judge_model.id, judgements=oriented,
        finish={"chosen": chosen.finish, "rejected": rejected.finish}, drop=drop,
        plan_hash=job.plan_hash)
    return {**out, "checks": pair_record(verdicts, a_chosen, ruling)} if job.checks else out

