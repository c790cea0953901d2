"""Checks in generating stages (critique_revision, feedback): run the checks that apply to a
reply, record their verdicts with it, count them per check, and settle a judged pair by them.

A stage holds two kinds of checks: its own `checks` setting, which every reply is held to, and
the checks of the principle (critique_revision) or questions (feedback) a reply was written or
judged under. Each check applies only to prompts whose tags it selects; a verdict is True
(passed), False (failed) or None (out of scope), recorded as JSON per reply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from constlang.checks.apply import CheckSet
from constlang.checks.base import ReplyContext
from constlang.errors import StageError
from constlang.words import counted

Verdicts = dict[str, bool | None]
Ruling = Literal["judge", "agreed", "overridden", "dropped", "ignored"]
CHECK_DROP = "failed_checks"  # the SFT drop reason of a reply that failed a check
CONFLICT_DROP = "check_conflict"  # the preference drop reason of `check_conflicts = drop`


def token_counter(engine: Any) -> Callable[[str], int] | None:
    """The engine's tokenizer as a token counter (the reply's own tokens, no special ones);
    None for an engine without a tokenizer."""
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class StageChecks:
    """The checks one stage runs: `always` (its `checks` setting) plus those named per reply."""

    every: CheckSet  # every check the stage may run, each built once
    always: tuple[str, ...]
    count_tokens: Callable[[str], int] | None = None

    @classmethod
    def of(cls, plan: Any, always: Sequence[str], declared: Iterable[str]) -> StageChecks:
        """`always` and the checks the stage's principles or questions declare (`declared`)."""
        return cls(CheckSet.of(plan, [*always, *declared]), tuple(always))

    def __bool__(self) -> bool:
        return bool(self.every)

    def use_tokenizer_of(self, engine: Any) -> None:
        """Count tokens for `length` checks with `unit = tokens` by the engine's tokenizer."""
        self.count_tokens = token_counter(engine)
        if self.count_tokens is None and any(c.checker.needs_tokens for c in self.every.checks):
            raise StageError("a length check in tokens needs the model's tokenizer, and this "
                             "model is served (its tokens are the server's): count words or "
                             "characters instead")

    def verdicts(self, reply: str, prompt: str, tags: Iterable[str],
                 named: Iterable[str] = ()) -> Verdicts:
        """The verdicts of `always` and the `named` checks on one reply to `prompt`."""
        ids = set(self.always) | set(named)
        chosen = CheckSet([c for c in self.every.checks if c.id in ids])
        return chosen.results(reply, ReplyContext(prompt, frozenset(tags), self.count_tokens))

    def summary(self, recorded: Iterable[tuple[str, Verdicts]]) -> dict[str, Any]:
        """Per check, over recorded (prompt id, verdicts): applied, passed, failed, skipped,
        pass_rate and a few failing prompt ids (CheckSet.summary)."""
        tally = CheckSet(list(self.every.checks))
        for prompt_id, verdicts in recorded:
            tally.count(verdicts, prompt_id)
        return tally.summary()


def check_rounds(checks: StageChecks, rows: Sequence[dict[str, Any]],
                 tags: Sequence[Iterable[str]], named: dict[str, Sequence[str]]) -> None:
    """Record on each round of each critique_revision row (`checks`) the verdicts on its
    revision of the stage's checks and of that round's principle (`named`: principle → checks)."""
    for row, row_tags in zip(rows, tags, strict=True):
        for r in row["rounds"]:
            r["checks"] = checks.verdicts(r["revision"], row["prompt"], row_tags,
                                          named.get(r["principle"], ()))


def failed(verdicts: Verdicts | None) -> list[str]:
    """The checks a recorded reply failed."""
    return [cid for cid, v in (verdicts or {}).items() if v is False]


def settle(a_passes: bool, b_passes: bool, judge_prefers_a: bool,
           mode: str) -> tuple[bool, Ruling]:
    """Whether reply A is chosen, and how the checks ruled on a judged pair.

    The checks decide only when exactly one reply passes every check that applies; otherwise
    (`judge`) the judge's choice stands. When they decide and the judge agrees: `agreed`.
    When it does not: veto → `overridden` (the passing reply is chosen), drop → `dropped`
    (the pair is left out), ignore → `ignored` (the judge's choice stands).
    """
    if a_passes == b_passes:
        return judge_prefers_a, "judge"
    if a_passes == judge_prefers_a:
        return judge_prefers_a, "agreed"
    if mode == "veto":
        return a_passes, "overridden"
    return judge_prefers_a, "dropped" if mode == "drop" else "ignored"


def pair_record(verdicts: Sequence[Verdicts], a_chosen: bool,
                ruling: Ruling) -> dict[str, Any]:
    """The `checks` field of a preference row: each reply's verdicts by role, and the ruling."""
    chosen, rejected = verdicts if a_chosen else verdicts[::-1]
    return {"chosen": chosen, "rejected": rejected, "ruling": ruling,
            "decided": ruling != "judge", "overridden": ruling == "overridden"}


def pair_summary(checks: StageChecks, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A feedback stage's check figures: per check over both replies of every pair, and how
    many pairs the checks decided, agreed with the judge on, overrode, dropped or ignored."""
    recorded = [r for r in rows if r.get("checks")]
    rulings = [r["checks"]["ruling"] for r in recorded]
    return {
        "per_check": checks.summary((r["prompt_id"], r["checks"][role]) for r in recorded
                                    for role in ("chosen", "rejected")),
        "decided": sum(x != "judge" for x in rulings), "agreed": rulings.count("agreed"),
        "overridden": rulings.count("overridden"), "dropped": rulings.count("dropped"),
        "ignored": rulings.count("ignored")}


def pair_line(figures: dict[str, Any]) -> str:
    """e.g. `checks decided 3 pairs: 1 agreed with the judge, 2 overridden`."""
    parts = [f"{figures[k]} {k}" for k in ("overridden", "dropped", "ignored") if figures[k]]
    return (f"checks decided {counted(figures['decided'], 'pair')}: {figures['agreed']} agreed "
            "with the judge" + "".join(f", {p}" for p in parts))

