"""Checks, the built-in checkers: refusal, regex, phrases, length and json."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Literal

from pydantic import Field

from constlang.checks import refusal
from constlang.checks.base import ArgError, Args, Checker, ReplyContext
from constlang.checks.regex import PatternError, compile_pattern
from constlang.words import counted

MAX_PHRASES = 1000
_WORD = re.compile(r"\S+")


class RefusalArgs(Args):
    expect: Literal["decline", "redirect", "comply"] = Field(
        description="decline: the reply refuses or redirects; redirect: it declines and "
        "points to a safer path or to help; comply: it does not decline.")


class RefusalChecker(Checker):
    name = "refusal"
    summary = ("The refusal detector of the evaluate stage: whether the reply's opening "
               "declines the request, and whether it offers a safe alternative.")
    Args = RefusalArgs

    def passes(self, reply: str, context: ReplyContext) -> bool:
        verdict = refusal.classify(reply)
        if self.args.expect == "comply":
            return verdict == "comply"
        if self.args.expect == "redirect":
            return verdict == "redirect"
        return verdict in ("refusal", "redirect")


class RegexArgs(Args):
    pattern: str = Field(description="An RE2 regular expression, searched anywhere in the "
                         "reply (anchor it with ^ and $ to match the whole reply).")
    expect: Literal["match", "no_match"] = Field(
        description="match: the pattern must be found; no_match: it must not be.")
    ignore_case: bool = Field(False, description="Match letters in either case.")


class RegexChecker(Checker):
    name = "regex"
    summary = ("A regular expression that must or must not match, run by RE2 (linear time: no "
               "pattern can stall a run).")
    Args = RegexArgs

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        try:
            self.compiled = compile_pattern(args.pattern, ignore_case=args.ignore_case)
        except PatternError as exc:
            raise ArgError("pattern", exc.message, exc.offset, exc.width,
                           "RE2 syntax: https://github.com/google/re2/wiki/Syntax "
                           "(no backreferences or lookaround)") from None

    def passes(self, reply: str, context: ReplyContext) -> bool:
        found = self.compiled.search(reply) is not None
        return found if self.args.expect == "match" else not found


class PhrasesArgs(Args):
    phrases: list[str] = Field(min_length=1, description="The phrases looked for.")
    expect: Literal["any", "all", "none"] = Field(
        description="any: at least one appears; all: every one appears; none: none appears.")
    case_sensitive: bool = Field(False, description="Compare letters in their case.")
    normalize: Literal["NFKC", "NFC", "none"] = Field(
        "NFKC", description="Unicode normalisation of reply and phrases before comparing "
        "(NFKC also folds compatibility forms such as full-width letters and ligatures).")


class PhrasesChecker(Checker):
    name = "phrases"
    summary = "Phrases that must (any or all) or must not appear, after Unicode normalisation."
    Args = PhrasesArgs

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        if len(args.phrases) > MAX_PHRASES:
            raise ArgError("phrases", f"{len(args.phrases):,} phrases (at most {MAX_PHRASES:,})")
        for i, phrase in enumerate(args.phrases):
            if not phrase.strip():
                raise ArgError("phrases", f"phrase {i + 1} is empty: it would match every reply")
        self.wanted = [self._norm(p) for p in args.phrases]

    def _norm(self, text: str) -> str:
        if self.args.normalize != "none":
            text = unicodedata.normalize(self.args.normalize, text)
        text = " ".join(text.split())  # runs of white space compare as one space
        return text if self.args.case_sensitive else text.casefold()

    def passes(self, reply: str, context: ReplyContext) -> bool:
        text = self._norm(reply)
        found = [p in text for p in self.wanted]
        if self.args.expect == "any":
            return any(found)
        if self.args.expect == "all":
            return all(found)
        return not any(found)


class LengthArgs(Args):
    min: int | None = Field(None, ge=0, le=10_000_000, description="At least this many units.")
    max: int | None = Field(None, ge=0, le=10_000_000, description="At most this many units.")
    unit: Literal["words", "characters", "tokens"] = Field(
        "words", description="words: runs of non-space characters; tokens: the tokens of the "
        "model that wrote the reply.")


class LengthChecker(Checker):
    name = "length"
    summary = "Length bounds in words, characters or the model's tokens."
    Args = LengthArgs

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        if args.min is None and args.max is None:
            raise ArgError("max", "a length check needs `min`, `max` or both",
                           help="e.g. max = 120")
        if args.min is not None and args.max is not None and args.min > args.max:
            raise ArgError("min", f"`min` ({args.min}) is larger than `max` ({args.max}): no "
                           "reply can pass")
        self.needs_tokens = args.unit == "tokens"

    def size(self, reply: str, context: ReplyContext) -> int:
        if self.args.unit == "characters":
            return len(reply)
        if self.args.unit == "tokens":
            if context.count_tokens is None:
                raise RuntimeError("a length check in tokens needs the model's tokenizer")
            return context.count_tokens(reply)
        return sum(1 for _ in _WORD.finditer(reply))

    def passes(self, reply: str, context: ReplyContext) -> bool:
        n = self.size(reply, context)
        return (self.args.min is None or n >= self.args.min) and (
            self.args.max is None or n <= self.args.max)

    def describe(self) -> str:
        lo, hi, unit = self.args.min, self.args.max, self.args.unit
        if lo is not None and hi is not None:
            return f"{lo}–{hi} {unit}"
        return f"at least {counted(lo, unit[:-1])}" if lo is not None else \
            f"at most {counted(hi or 0, unit[:-1])}"


class JsonArgs(Args):
    schema_: str | None = Field(None, alias="schema", description="A JSON Schema (draft "
                                "2020-12) the reply must match, as a JSON string; leave it "
                                "out to ask only for well-formed JSON.")
    fenced: bool = Field(True, description="Accept the JSON inside one ``` code fence.")


class JsonChecker(Checker):
    name = "json"
    summary = "The reply is well-formed JSON, and matches a JSON Schema when one is given."
    Args = JsonArgs

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.validator = None
        if args.schema_ is not None:
            from constlang.checks.schema import schema_validator

            self.validator = schema_validator(args.schema_)

    def passes(self, reply: str, context: ReplyContext) -> bool:
        text = reply.strip()
        if self.args.fenced and text.startswith("```") and text.endswith("```"):
            text = text[3:-3]
            text = text.split("\n", 1)[1] if text[:4].lower().startswith("json") else text
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return False
        if self.validator is None:
            return True
        try:
            return bool(self.validator.is_valid(value))
        except RecursionError:
            return False


BUILTIN: dict[str, type[Checker]] = {c.name: c for c in (
    RefusalChecker, RegexChecker, PhrasesChecker, LengthChecker, JsonChecker)}
