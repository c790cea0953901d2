"""Diagnostics and errors: what every compiler stage and command reports problems with, and the
one family of exceptions (with their exit statuses) that stop a command."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from constlang.span import Span
from constlang.suggest import NameIndex


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


@dataclass(frozen=True)
class Edit:
    """Replace the text between two offsets of a file."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Fix:
    message: str
    edits: tuple[Edit, ...]
    safe: bool = True


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None
    help: str | None = None
    fix: Fix | None = None
    notes: tuple[str, ...] = field(default=())
    # other places the diagnostic is about, each with what it is: (message, span)
    related: tuple[tuple[str, Span], ...] = field(default=())

    @property
    def file(self) -> str:
        return self.span.file if self.span else "<unknown>"

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return (self.file, 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"code": self.code, "severity": self.severity.value,
                                "message": self.message}
        if self.span:
            d.update(self.span.to_dict())
        else:
            d.update({"file": None, "line": None, "column": None, "end_line": None,
                      "end_column": None})
        d["help"] = self.help
        d["fix"] = None if self.fix is None else {
            "message": self.fix.message, "safe": self.fix.safe,
            "edits": [{"start": e.start, "end": e.end, "text": e.text} for e in self.fix.edits],
        }
        if self.related:  # only when there are some: the shape of every other record is kept
            d["related"] = [{"message": m, **s.to_dict()} for m, s in self.related]
        return d


class Diagnostics:
    """Collects every diagnostic of a run."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, code: str, message: str, span: Span | None, help: str | None = None,
            severity: Severity = Severity.ERROR, fix: Fix | None = None) -> Diagnostic:
        d = Diagnostic(code, severity, message, span, help, fix)
        self.items.append(d)
        return d

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.add(code, message, span, help)

    def warning(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.add(code, message, span, help, Severity.WARNING)

    def extend(self, items: Iterable[Diagnostic]) -> None:
        self.items.extend(items)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple[object, ...]] = set()
        out = []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            key = (d.code, d.message, d.span)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


def did_you_mean(name: str, candidates: Iterable[str] | NameIndex) -> str | None:
    """A 'did you mean' help line for a misspelled name, or None. Pass a NameIndex built
    once when many names may be misspelled against the same candidates."""
    index = candidates if isinstance(candidates, NameIndex) else NameIndex(candidates)
    match = index.suggest(name)
    return f"did you mean `{match}`?" if match else None


def suggest_then_list(message: str, name: str, candidates: Sequence[str], listed: str) -> str:
    """An unknown-name message that leads with the closest name, then lists them all:
    `no stage `sfx` (did you mean `sft`?); stages: critique_revision, sft`."""
    hint = did_you_mean(name, candidates)
    return (message + (f" ({hint})" if hint else "")
            + f"; {listed}: {', '.join(candidates) or 'none'}")


# The exit statuses of every command (docs/errors.md, "Exit status").
EXIT_OK = 0  # done: no errors, or no finding at the failing level
EXIT_FINDINGS = 1  # the input has errors, a finding reached the failing level, or the work failed
EXIT_USAGE = 2  # the command was called wrongly
EXIT_INTERNAL = 3  # a bug in constlang, not in the input


class ConstlangError(Exception):
    """The base of every failure a command reports, and the exit status it ends with.

    Library code raises a subclass instead of printing and exiting; the CLI turns it into
    one message and `exit_code` in one place (`constlang.cli.shared.report_error`), never a
    traceback. Raise one of the subclasses below, not this class.
    """

    exit_code = EXIT_INTERNAL


class UserError(ConstlangError):
    """A failure the user can act on: the input has errors, or the work asked for failed.

    The CLI prints it as one line, `error: <message>`, and exits with `exit_code`.
    """

    exit_code = EXIT_FINDINGS


class UsageError(UserError):
    """The command was called wrongly: a bad option or setting, a path that does not exist or
    cannot be written. Printed like any UserError (unlike click's, with no usage text)."""

    exit_code = EXIT_USAGE


class InternalError(ConstlangError):
    """A bug in constlang, not in the input. The CLI prints `internal error: <message>` and
    asks for a report with the input file."""

    exit_code = EXIT_INTERNAL


class StageError(UserError):
    """A stage cannot run as configured (bad data, an unusable setting, a stage before it that
    has not run); the runtime's modules below the stages raise it too."""
