"""Checks, the checker protocol: what a built-in or installed checker provides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from constlang.errors import UserError


class Args(BaseModel):
    """A checker's arguments: the fields written in its `check` declarations."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


@dataclass(frozen=True)
class ReplyContext:
    """What a checker may know besides the reply: the prompt, its tags, a token counter."""

    prompt: str = ""
    tags: frozenset[str] = frozenset()
    count_tokens: Callable[[str], int] | None = None


@dataclass
class ArgError(UserError):
    """An argument a checker cannot use: which, why, and where in its string value."""

    argument: str
    message: str
    offset: int | None = None  # into the argument's string value
    width: int = 1
    help: str | None = None

    def __str__(self) -> str:
        return f"`{self.argument}`: {self.message}"


class Checker:
    """Decides whether one reply passes. Subclasses set `name`, `summary` and `Args`, check
    their arguments in `__init__` (raising ArgError) and answer in `passes`.

    A checker must be cheap and bounded: it runs on every reply a stage writes, and its
    arguments come from files anyone can send in a pull request.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Args: ClassVar[type[Args]] = Args
    needs_tokens: bool = False  # set by a checker that counts the model's tokens

    def __init__(self, args: Any) -> None:
        self.args = args

    def passes(self, reply: str, context: ReplyContext) -> bool:
        raise NotImplementedError


@dataclass
class Tally:
    """How often one check applied, passed and failed."""

    applied: int = 0
    passed: int = 0
    skipped: int = 0  # replies to prompts outside the check's scope
    failures: list[str] = field(default_factory=list)  # a few prompt ids, for the manifest

    @property
    def failed(self) -> int:
        return self.applied - self.passed

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.applied if self.applied else None

    def as_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "passed": self.passed, "failed": self.failed,
                "skipped": self.skipped, "pass_rate": self.pass_rate}
