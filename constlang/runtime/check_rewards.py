"""RL stages (ppo, grpo, rloo), check rewards: each reply's reward from the stage's checks, the
figures each update logs (reward components, pass rates) and the manifest's pass rates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from constlang.checks.apply import CheckSet
from constlang.checks.base import ReplyContext
from constlang.runtime.rundir import logged_number

MODEL_KEY = "reward/model"  # the mean score of the reward model (or the judge), unweighted
CHECKS_KEY = "reward/checks"  # the mean check reward, Σ weight × (±1) over applicable checks
PREFIX, SUFFIX = "checks/", "/pass_rate"


def pass_rate_key(check_id: str) -> str:
    """The metrics.jsonl key of one check's pass rate over an update's replies."""
    return f"{PREFIX}{check_id}{SUFFIX}"


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


class CheckRewards:
    """The check part of an RL stage's reward: scores replies, tallies every check."""

    def __init__(self, checks: CheckSet, count_tokens: Callable[[str], int] | None = None) -> None:
        self.checks = checks
        self.count_tokens = count_tokens

    @classmethod
    def of(cls, plan: Any, ids: Iterable[str], tokenizer: Any = None) -> CheckRewards | None:
        """The stage's check rewards, None without checks; `tokenizer` counts tokens for
        length checks in tokens (the policy's)."""
        checks = CheckSet.of(plan, ids)
        if not checks:
            return None
        count = None if tokenizer is None else (
            lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]))
        return cls(checks, count)

    def score(self, prompts: Sequence[str], replies: Sequence[str],
              tags: Sequence[Iterable[str]]) -> tuple[list[float], dict[str, float]]:
        """(each reply's check reward, the batch's figures: mean check reward and each
        applicable check's pass rate). Every verdict is also added to the stage's tallies."""
        batch = CheckSet(self.checks.checks)
        rewards = []
        for prompt, reply, tagged in zip(prompts, replies, tags, strict=True):
            results = self.checks.results(reply, ReplyContext(
                prompt=prompt, tags=frozenset(tagged or ()), count_tokens=self.count_tokens))
            self.checks.count(results)
            batch.count(results)
            rewards.append(self.checks.reward(results))
        figures = {CHECKS_KEY: mean(rewards)}
        figures.update({pass_rate_key(cid): t.pass_rate for cid, t in batch.tallies.items()
                        if t.pass_rate is not None})
        return rewards, figures


def component_summary(path: Path, first: list[dict[str, Any]],
                      last: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's reward components and per-check pass rates at the start and the end of
    training (means over the logged updates of `first` and `last` that have each figure)."""

    def at(rows: list[dict[str, Any]], key: str) -> float | None:
        found = [logged_number(path, r, key) for r in rows if key in r]
        return round(mean(found), 4) if found else None

    out: dict[str, Any] = {}
    for name, key in (("model_reward", MODEL_KEY), ("check_reward", CHECKS_KEY)):
        if any(key in r for r in last):
            out[f"{name}_start"], out[f"{name}_end"] = at(first, key), at(last, key)
    ids = list(dict.fromkeys(k[len(PREFIX):-len(SUFFIX)] for r in first + last for k in r
                             if k.startswith(PREFIX) and k.endswith(SUFFIX)))
    if ids:
        out["check_pass_rate_start"] = {i: at(first, pass_rate_key(i)) for i in ids}
        out["check_pass_rate_end"] = {i: at(last, pass_rate_key(i)) for i in ids}
    return out


def pass_rates_line(metrics: dict[str, Any]) -> str:
    """A headline's part naming each check's pass rate, start → end; "" without checks."""
    start, end = metrics.get("check_pass_rate_start"), metrics.get("check_pass_rate_end")
    if not isinstance(end, dict) or not end:
        return ""
    start = start if isinstance(start, dict) else {}

    def pct(x: Any) -> str:
        return f"{x:.0%}" if isinstance(x, int | float) else "-"

    return "; checks passed: " + ", ".join(f"{cid} {pct(start.get(cid))} → {pct(rate)}"
                                           for cid, rate in end.items())
