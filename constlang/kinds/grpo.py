"""Stage kind grpo: its settings and its record (shared with rloo: kinds/_group.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from constlang.kinds._group import GroupSettings, group_kind


class GRPOSettings(GroupSettings):
    loss: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = Field(
        "dapo", description="How token losses add up: grpo: mean per completion, then over "
        "completions (favours short good and long bad replies); dr_grpo: sum over a fixed "
        "length; dapo: mean over every token of the update; bnpo: mean over the micro-batch's "
        "tokens.")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="Divide each advantage (reward − its group's mean) by the standard "
        "deviation of the group's rewards, of the batch's, or not at all.")


KIND = group_kind("grpo", GRPOSettings, "GRPO")
