"""CL702 contradictory-checks: two checks on the same prompts that no reply can both pass."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule

REFUSAL_CLASHES = {("decline", "comply"), ("redirect", "comply")}


def _refusal(a: Any, b: Any) -> str | None:
    pair = (a.args.get("expect"), b.args.get("expect"))
    if pair in REFUSAL_CLASHES or pair[::-1] in REFUSAL_CLASHES:
        return f"`{a.id}` expects {pair[0]}, `{b.id}` expects {pair[1]}"
    return None


def _regex(a: Any, b: Any) -> str | None:
    if {a.args.get("expect"), b.args.get("expect")} != {"match", "no_match"}:
        return None
    must, must_not = (a, b) if a.args.get("expect") == "match" else (b, a)
    same_flags = must.args.get("ignore_case") == must_not.args.get("ignore_case")
    if must.args.get("pattern") == must_not.args.get("pattern") and (
            same_flags or must_not.args.get("ignore_case")):
        return f"`{must.id}` must match the pattern `{must_not.id}` must not match"
    return None


def _norm(args: dict[str, Any], text: str) -> str:
    if args.get("normalize", "NFKC") != "none":
        text = unicodedata.normalize(args.get("normalize", "NFKC"), text)
    text = " ".join(text.split())
    return text if args.get("case_sensitive") else text.casefold()


def _phrases(a: Any, b: Any) -> str | None:
    expects = {a.args.get("expect"), b.args.get("expect")}
    if "none" not in expects or expects == {"none"}:
        return None
    want, avoid = (b, a) if a.args.get("expect") == "none" else (a, b)
    if want.args.get("normalize") != avoid.args.get("normalize") or (
            avoid.args.get("case_sensitive") and not want.args.get("case_sensitive")):
        return None  # the two read a reply differently: a reply may satisfy both
    banned = [_norm(avoid.args, p) for p in avoid.args.get("phrases", [])]
    hit = [p for p in want.args.get("phrases", []) if any(q in _norm(avoid.args, p)
                                                          for q in banned)]
    every = want.args.get("expect") == "all"
    if (every and hit) or (not every and hit and len(hit) == len(want.args.get("phrases", []))):
        return (f"`{want.id}` needs {'the phrase' if every else 'one of'} "
                f"{', '.join(repr(p) for p in hit[:3])}, which `{avoid.id}` forbids")
    return None


def _length(a: Any, b: Any) -> str | None:
    if a.args.get("unit") != b.args.get("unit"):
        return None
    lo = max(x for x in (a.args.get("min"), b.args.get("min"), 0) if x is not None)
    his = [x for x in (a.args.get("max"), b.args.get("max")) if x is not None]
    if his and lo > min(his):
        unit = a.args.get("unit", "words")
        return f"their {unit} bounds do not overlap"
    return None


CLASHES: dict[str, Callable[[Any, Any], str | None]] = {
    "refusal": _refusal, "regex": _regex, "phrases": _phrases, "length": _length}


def overlap(a: Any, b: Any) -> str | None:
    """Where both checks apply, in words; None when their scopes are apart."""
    if not a.applies_to and not b.applies_to:
        return "every prompt"
    if not a.applies_to or not b.applies_to:
        tags = a.applies_to or b.applies_to
    else:
        tags = [t for t in a.applies_to if t in b.applies_to]
        if not tags:
            return None
    return "prompts tagged " + ", ".join(f'"{t}"' for t in tags[:3])


def check(ctx: LintContext) -> Iterator[Finding]:
    checks = ctx.plan.checks
    for j, later in enumerate(checks):
        sym = ctx.symbol("check", later.id)
        clash = CLASHES.get(later.checker)
        if sym is None or clash is None or not ctx.is_local(sym):
            continue
        for first in checks[:j]:
            where = overlap(first, later) if first.checker == later.checker else None
            why = clash(first, later) if where else None
            if why:
                yield Finding(f"checks `{first.id}` and `{later.id}` contradict on {where}: "
                              f"{why}, so no reply can pass both", ctx.name_span(sym),
                              "narrow one check's `applies_to`, or remove one of them")
                break


RULE = Rule(
    code="CL702", name="contradictory-checks", category="checks", severity=Severity.WARNING,
    summary="Two checks that apply to the same prompts and that no reply can both pass.",
    rationale="Checks filter revisions, pick the best of several replies and become rewards. "
    "Two checks that contradict each other on the same prompts (a refusal check expecting "
    "`decline` and one expecting `comply`; phrases that one check requires and another "
    "forbids; a regex that must and must not match; length bounds that do not overlap) fail "
    "every reply: nothing passes the filter, and the rewards cancel out. Checks whose "
    "`applies_to` tags do not meet never apply together and are not flagged.",
    bad='''check declines { checker = refusal  expect = decline  applies_to = ["harmful"] }
check answers  { checker = refusal  expect = comply }''',
    good='''check declines { checker = refusal  expect = decline  applies_to = ["harmful"] }
check answers  { checker = refusal  expect = comply   applies_to = ["benign"] }''',
    check=check,
)
