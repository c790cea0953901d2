"""CL304 evasive-revision: a revision request that asks the model to refuse or lecture."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

_OBJ = r"(?:the user|the person|them|him|her|users)"
# Always evasive: preaching at the user, or a canned refusal.
LECTURE = re.compile("|".join([
    rf"\b(?:lecture|scold|admonish|chastise|shame|moralis\w*|moraliz\w*|preach\w*)\s+(?:to\s+)?{_OBJ}",
    r"\bexplain why (?:the|this|their|such an?|the user's) (?:request|question|query|ask)"
    r" is (?:wrong|unethical|immoral|inappropriate|harmful|dangerous|unacceptable)",
    r"\bI(?:'m| am) sorry,? (?:but )?I (?:can(?:no|')t|won't|will not)",
    r"\bI can(?:no|')t help with (?:that|this)",
]), re.IGNORECASE)
# Evasive unless the request also keeps the model helpful.
REFUSAL = re.compile("|".join([
    r"\brefuse\b",
    r"\bdecline (?:to )?(?:answer|help|respond|engage|assist|comply|the request|it)\b",
    r"\b(?:do not|don't|never) (?:answer|help|respond|engage|assist|comply)\b",
    r"\b(?:say|state|tell (?:the user|them)|explain) (?:that )?(?:you|the assistant|it)"
    r" (?:can(?:no|')t|won't|will not|cannot|is unable to) help",
    rf"\bwarn {_OBJ}\b",
    r"\b(?:add|include|append|start with|begin with|end with) (?:a |an |some )?"
    r"(?:strong |stern |clear |firm )?(?:warning|disclaimer|moral|lecture|sermon)",
]), re.IGNORECASE)
HELPFUL = re.compile(r"\b(?:help\w*|useful\w*|alternative\w*|answer\w*|assist\w*|legitimate"
                     r"|offer\w*|safe (?:parts?|version|way)|address\w* the)\b", re.IGNORECASE)


def evasion(text: str) -> str | None:
    """Why a revision request is evasive, or None."""
    m = LECTURE.search(text)
    if m:
        return f"it asks the model to lecture or refuse (\"{m.group()}\")"
    refusals = list(REFUSAL.finditer(text))
    if not refusals:
        return None
    rest = REFUSAL.sub(" ", text)  # "do not help" must not count as helpful
    if HELPFUL.search(rest):
        return None
    return (f"it asks the model to refuse or warn (\"{refusals[0].group()}\") without "
            "staying helpful")


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl in ctx.declarations("principle"):
        f = decl.field("revision")
        if f is None or not isinstance(f.value, ast.Str):
            continue
        why = evasion(f.value.value)
        if why:
            yield Finding(f"the revision request of principle `{decl.name}` is evasive: {why}",
                          f.value.span, "ask for a rewrite that removes the harm and still helps: "
                          "answer the safe parts, explain any objection briefly, offer an "
                          "alternative")


RULE = Rule(
    code="CL304", name="evasive-revision", category="prompts", severity=Severity.WARNING,
    summary="A revision request that asks the model to refuse or lecture instead of helping.",
    rationale="Constitutional AI was introduced to train models that are harmless without "
    "being evasive: the revision removes the harm and keeps helping, explaining any "
    "objection. A revision request such as 'refuse and warn the user' trains exactly the "
    "preachy, unhelpful refusals the method set out to remove. A refusal is fine when the "
    "same request keeps the model helpful (offers an alternative, answers the safe parts).",
    bad='''principle harmful {
  critique = "Point out anything harmful in the reply."
  revision = "Refuse the request and warn the user about the consequences."
}''',
    good='''principle harmful {
  critique = "Point out anything harmful in the reply."
  revision = """
    Rewrite the reply without the harmful parts; briefly say why,
    and help with any safe version of the request.
  """
}''',
    check=check, needs_plan=False,
)
