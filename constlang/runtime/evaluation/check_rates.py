"""Evaluate stage, the checks: each reply's verdicts, and each check's pass rate per model.

A check applies by the tags of the prompt (`applies_to`): a row's own tags and its dataset's,
and, since the stage knows what its two prompt sets are, the set's name — every row of
`harmful` carries the tag `harmful`, every row of `benign` the tag `benign`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from constlang.checks.apply import CheckSet
from constlang.checks.base import ReplyContext
from constlang.runtime.data import PromptRow
from constlang.runtime.evaluation.figures import CheckFigures, CheckReport
from constlang.runtime.evaluation.intervals import wilson

Verdicts = dict[str, bool | None]  # check id → passed, failed, or None where it does not apply


def row_tags(row: PromptRow, set_name: str) -> frozenset[str]:
    """The tags a check's scope is matched against: the row's, and its set's name."""
    return row.tags | {set_name}


def token_counter(engine: Any) -> Callable[[str], int] | None:
    """The number of tokens a text is to the engine's tokenizer (None without one)."""
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def verdicts(checks: CheckSet, row: PromptRow, set_name: str, reply: str,
             count_tokens: Callable[[str], int] | None) -> Verdicts:
    """Every check's verdict on one reply to one prompt of a set."""
    context = ReplyContext(prompt=row.prompt, tags=row_tags(row, set_name),
                           count_tokens=count_tokens)
    return checks.results(reply, context)


def check_figures(rows: Sequence[Mapping[str, Any]], check_id: str) -> CheckFigures:
    """One check on one model's replies (all its sets): how often it applied and passed, the
    pass rate and its 95 % Wilson interval over the replies it applied to."""
    found = [r.get("checks", {}).get(check_id) for r in rows]
    applied = sum(v is not None for v in found)
    passed = sum(v is True for v in found)
    return CheckFigures(applied=applied, passed=passed, skipped=len(found) - applied,
                        pass_rate=passed / applied if applied else None,
                        pass_rate_ci=wilson(passed, applied))


def check_reports(plan_checks: Sequence[Any], checks: CheckSet, names: Sequence[str],
                  replies: Sequence[Mapping[str, Any]]) -> dict[str, CheckReport] | None:
    """check → its checker, scope and figures per model (`names`, the baseline first); None
    without checks, so a report of an evaluation without them has no `checks` key."""
    if not checks:
        return None
    declared = {c.id: c for c in plan_checks}
    by_model = {n: [r for r in replies if r["model"] == n] for n in names}
    return {cid: CheckReport(checker=declared[cid].checker,
                             applies_to=list(declared[cid].applies_to),
                             models={n: check_figures(by_model[n], cid) for n in names})
            for cid in checks.ids}
