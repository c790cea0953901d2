"""Checks, regular expressions: patterns compiled by RE2, which matches in linear time.

A `.const` file is untrusted input: a pattern such as `(a+)+$` must not be able to stall
`check`, `lint` or a training run. RE2 has no backtracking, so matching costs time in
proportion to the text; compiling is capped in memory (`MAX_PROGRAM_BYTES`) and in length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constlang.errors import UserError

MAX_PATTERN_CHARS = 4096
MAX_PROGRAM_BYTES = 1 << 20  # RE2's own cap on the compiled program and its caches
# Compiling costs up to ~20 ms a pattern at that cap, so a file of thousands of patterns could
# still stall `check`: a constitution (or plan) holds at most this many, schemas' included.
MAX_PATTERNS = 256


@dataclass
class PatternError(UserError):
    """Why a pattern does not compile; `offset` is where in the pattern, when known."""

    message: str
    offset: int | None = None
    width: int = 1

    def __str__(self) -> str:
        return self.message


def patterns_in(checker: str, args: dict[str, Any]) -> int:
    """How many regular expressions a check's arguments hold (an upper bound for schemas)."""
    if checker == "regex":
        return 1
    schema = args.get("schema")
    return schema.count('"pattern') if checker == "json" and isinstance(schema, str) else 0


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Any:
    """The compiled RE2 pattern; raises PatternError saying what is wrong and where."""
    import re2  # google-re2: imported when a pattern is compiled, not by every command

    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"the pattern is {len(pattern):,} characters long (at most "
                           f"{MAX_PATTERN_CHARS:,})", MAX_PATTERN_CHARS)
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_BYTES
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise _located(pattern, exc) from None


def _located(pattern: str, exc: Exception) -> PatternError:
    """RE2 says `what: fragment`; the fragment is found in the pattern to point at it."""
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if text.startswith("pattern too large"):
        return PatternError("the pattern compiles to a program larger than RE2's "
                            f"{MAX_PROGRAM_BYTES >> 20} MiB limit: simplify it (fewer or "
                            "smaller repetitions, narrower classes than \\pL)")
    what, sep, fragment = text.partition(": ")
    if not sep:
        return PatternError(f"invalid pattern: {text}")
    where = pattern.rfind(fragment) if fragment else -1
    if where < 0:
        return PatternError(f"invalid pattern: {what}")
    if what.startswith("missing )"):  # point at the group that is never closed
        opening = pattern.rfind("(", where, where + len(fragment))
        return PatternError("invalid pattern: the group opened here is never closed (missing "
                            "`)`)", opening if opening >= 0 else where)
    return PatternError(f"invalid pattern: {what} `{fragment[:40]}`", where,
                        max(1, len(fragment)))
