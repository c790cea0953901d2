"""Rules: the record each lint rule is declared with, and the findings a rule reports."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from constlang.errors import Fix, Severity
from constlang.span import Span

if TYPE_CHECKING:
    from constlang.lint.context import LintContext

CODE_RE = re.compile(r"CL[1-9][0-9]{2}")
NAME_RE = re.compile(r"[a-z]+(?:-[a-z]+)*")

# category → (code prefix, what its rules look at); the prefix is the hundreds digit.
CATEGORIES: dict[str, tuple[str, str]] = {
    "unused": ("CL1", "Declarations that nothing uses."),
    "sampling": ("CL2", "Principles and questions that sampling never or rarely draws."),
    "prompts": ("CL3", "The text of requests, questions, examples and templates."),
    "feedback": ("CL4", "AI-feedback settings: labels, clamping, position bias, judges."),
    "training": ("CL5", "Model contexts and training settings."),
    "naming": ("CL6", "Names, tags and metadata conventions."),
    "checks": ("CL7", "Checks: their scope by tags, and what replies can pass."),
    "models": ("CL8", "Model declarations: where models run and how they are reached."),
    "suppression": ("CL9", "Inline suppression comments."),
}


@dataclass(frozen=True)
class Finding:
    """One problem a rule found: the engine adds the rule's code and configured severity."""

    message: str
    span: Span
    help: str | None = None
    fix: Fix | None = None


Check = Callable[["LintContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A lint rule: a stable code and name, its docs, and the check that finds problems."""

    code: str
    name: str
    category: str
    severity: Severity
    summary: str  # one line: what the rule flags
    rationale: str  # why it matters, a short paragraph
    bad: str  # a .const snippet the rule flags
    good: str  # the same snippet, fixed
    check: Check
    fix: Literal["safe", "unsafe"] | None = None  # whether findings may carry a fix, and how safe
    needs_plan: bool = True  # skipped for a file that does not compile
    default: bool = True  # in the default selection
    after_suppression: bool = False  # runs once inline suppressions were applied

    def __post_init__(self) -> None:
        if not CODE_RE.fullmatch(self.code):
            raise ValueError(f"rule code `{self.code}` is not CL followed by three digits")
        if not NAME_RE.fullmatch(self.name):
            raise ValueError(f"rule name `{self.name}` is not kebab-case")
        prefix = CATEGORIES[self.category][0]
        if not self.code.startswith(prefix):
            raise ValueError(f"rule {self.code} of category {self.category} must start {prefix}")
