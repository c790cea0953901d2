"""Runner, results: what a run reports for each stage, and the error that stops a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang.errors import UserError


class RunError(UserError):
    """A run cannot go on; the message is one line for the user (exit status 1)."""


@dataclass
class StageOutcome:
    name: str
    kind: str
    status: str  # completed | skipped | not_implemented | planned
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_dir: Path
    plan_hash: str
    stages: list[StageOutcome]

    @property
    def complete(self) -> bool:
        """Every selected stage ran or was already done."""
        return all(s.status in ("completed", "skipped", "planned") for s in self.stages)
