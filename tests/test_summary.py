"""The table that ends a run: each kind's headline numbers, and a fallback for the rest."""

from __future__ import annotations

from constlang.runtime.summary import headline


def test_each_kind_says_how_it_went_in_a_few_numbers() -> None:
    assert headline("evaluate", {"models": {
        "assistant": {"harmful_refusal_rate": 0.0625, "benign_refusal_rate": 0.0},
        "ppo": {"harmful_refusal_rate": 0.5, "benign_refusal_rate": 0.125}}}) == (
        "refuses harmful / benign: assistant 6 % / 0 %, ppo 50 % / 12 %")
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
    assert headline("sft", {}) == "-"
