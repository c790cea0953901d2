"""The table that ends a run: each kind's headline numbers, and a fallback for the rest."""

from __future__ import annotations

from typing import Any

from constlang.runtime.summary import headline


def evaluate_metrics(**refusals: tuple[float, float | None]) -> dict[str, Any]:
    """An evaluate manifest's metrics: per model (harmful, benign) refusal rates."""
    return {"baseline": next(iter(refusals)), "models": {name: {
        "harmful_refusal_rate": harm, "harmful_redirect_rate": 0.0, "benign_refusal_rate": ben,
        "harmlessness_win_rate": None, "helpfulness_win_rate": None, "reward_mean": None}
        for name, (harm, ben) in refusals.items()},
        "judge_accuracy": {"harmlessness": None, "helpfulness": None},
        "generate_seconds": 1.5, "judge_seconds": 0.0, "judge_prompts": 0}


def test_each_kind_says_how_it_went_in_a_few_numbers() -> None:
    assert headline("evaluate", evaluate_metrics(assistant=(0.0625, 0.0), ppo=(0.5, 0.125))) \
        == "refuses harmful / benign: assistant 6 % / 0 %, ppo 50 % / 12 %"
    assert headline("evaluate", evaluate_metrics(assistant=(0.25, None))) == (
        "refuses harmful / benign: assistant 25 % / -")  # no benign prompts
    assert headline("reward_model", {"train_pairs": 9, "heldout": {
        "accuracy": 0.75, "calibration_error": 0.123}}) == (
        "9 pairs, held-out accuracy 75 %, ECE 0.12")
    assert headline("ppo", {"steps": 4, "reward_start": 0.451, "reward_end": 0.62,
                            "kl_end": 2.05}) == "4 steps, reward 0.451 → 0.62, KL 2.05"
    assert headline("feedback", {"pairs": 8, "kept_pairs": 2, "position_consistency": 1 / 3}) \
        == "2 of 8 pairs kept, position-consistent 33 %"


def test_an_unknown_kind_or_an_older_manifest_falls_back_to_its_first_numbers() -> None:
    assert headline("plugin_kind", {"a": 1, "b": "x", "c": 2.5, "d": True, "e": 3, "f": 4}) == (
        "a 1, c 2.5, e 3")
    assert headline("evaluate", {"seconds": 3.0}) == "seconds 3"  # no `models`: the fallback
    older = {**evaluate_metrics(a=(0.5, 0.5)), "models": {"a": {"harmful_refusal_rate": 0.5}}}
    assert headline("evaluate", older) == "generate_seconds 1.5, judge_seconds 0, judge_prompts 0"
    assert headline("sft", {}) == "-"
