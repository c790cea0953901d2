"""Stage kind rloo: its settings and its record (shared with grpo: kinds/_group.py)."""

from __future__ import annotations

from pydantic import Field

from constlang.kinds._group import GroupSettings, group_kind


class RLOOSettings(GroupSettings):
    normalize_advantages: bool = Field(
        False, description="Scale each batch's advantages (reward − the mean of the other "
        "completions of its group) to mean 0 and standard deviation 1.")


KIND = group_kind("rloo", RLOOSettings, "RLOO")
