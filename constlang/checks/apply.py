"""Checks, applied: a plan's checks built once, run on replies, scoped by the prompt's tags."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from constlang.checks.base import ArgError, Checker, ReplyContext, Tally
from constlang.checks.registry import CheckerError, checker_class
from constlang.errors import UserError

KEEP_FAILURES = 5  # prompt ids of failures kept per check, for the manifest


class CheckSetupError(UserError):
    """A check of the plan cannot be built (a plan written by hand, a checker uninstalled)."""


@dataclass(frozen=True)
class BoundCheck:
    """One declared check with its checker built."""

    id: str
    checker: Checker
    applies_to: frozenset[str]
    weight: float

    def applies(self, tags: Iterable[str]) -> bool:
        return not self.applies_to or not self.applies_to.isdisjoint(tags)


def bind(check: Any) -> BoundCheck:
    """Build the checker of one plan check (`constlang.plan.Check`)."""
    try:
        cls = checker_class(check.checker)
        checker = cls(cls.Args.model_validate(check.args))
    except (CheckerError, ArgError) as exc:
        raise CheckSetupError(f"check `{check.id}`: {exc}") from None
    except ValueError as exc:  # pydantic: arguments the checker does not take
        raise CheckSetupError(f"check `{check.id}`: bad arguments: {exc}") from None
    return BoundCheck(check.id, checker, frozenset(check.applies_to), check.weight)


@dataclass
class CheckSet:
    """Named checks run together; each counts how often it applied and passed."""

    checks: list[BoundCheck]
    tallies: dict[str, Tally] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: Any, ids: Iterable[str]) -> CheckSet:
        by_id = {c.id: c for c in plan.checks}
        chosen = list(dict.fromkeys(ids))
        missing = [i for i in chosen if i not in by_id]
        if missing:
            raise CheckSetupError(f"the plan has no check `{missing[0]}`")
        return cls([bind(by_id[i]) for i in chosen])

    def __bool__(self) -> bool:
        return bool(self.checks)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.checks]

    def results(self, reply: str, context: ReplyContext) -> dict[str, bool | None]:
        """Each check's verdict on `reply`: True, False, or None where it does not apply."""
        return {c.id: c.checker.passes(reply, context) if c.applies(context.tags) else None
                for c in self.checks}

    def count(self, results: dict[str, bool | None], prompt_id: str = "") -> None:
        """Add one reply's verdicts to the tallies."""
        for cid, verdict in results.items():
            tally = self.tallies.setdefault(cid, Tally())
            if verdict is None:
                tally.skipped += 1
                continue
            tally.applied += 1
            tally.passed += int(verdict)
            if not verdict and len(tally.failures) < KEEP_FAILURES and prompt_id:
                tally.failures.append(prompt_id)

    def reward(self, results: dict[str, bool | None]) -> float:
        """Σ weight × (+1 pass, −1 fail) over the checks that apply; 0 where none does."""
        weights = {c.id: c.weight for c in self.checks}
        return sum(weights[cid] * (1.0 if v else -1.0) for cid, v in results.items()
                   if v is not None)

    def summary(self) -> dict[str, Any]:
        """Per check: applied, passed, failed, skipped, pass rate (for a manifest)."""
        return {cid: {**t.as_json(), "failed_prompts": t.failures}
                for cid, t in self.tallies.items()}


def passes_all(results: dict[str, bool | None]) -> bool:
    """No applicable check failed."""
    return all(v is not False for v in results.values())


def principle_checks(plan: Any, principles: Iterable[str]) -> list[str]:
    """The checks the named principles declare, in order, each once."""
    by_id = {p.id: p for p in plan.principles}
    return list(dict.fromkeys(c for p in principles for c in by_id[p].checks))
