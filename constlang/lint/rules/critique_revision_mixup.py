"""CL308 critique-revision-mixup: a critique request that asks for a rewrite, or a revision
request that asks for a critique."""

from __future__ import annotations

import re
from collections.abc import Iterator

from constlang.errors import Severity
from constlang.lint.context import LintContext
from constlang.lint.rule import Finding, Rule
from constlang.syntax import ast

REWRITE = re.compile(r"\s*(?:please\s+)?(?:rewrite|revise|rephrase|edit|redo|remove|delete|"
                     r"shorten|replace|produce a (?:new|better)|write a (?:new|better)|"
                     r"make the (?:reply|response|answer))\b", re.IGNORECASE)
CRITIQUE = re.compile(r"\s*(?:please\s+)?(?:critique|point out|identify|list|assess|"
                      r"evaluate|judge|explain (?:how|why|whether)|consider whether|"
                      r"(?:is|does|did|was|are) the (?:reply|response|answer))\b", re.IGNORECASE)


def check(ctx: LintContext) -> Iterator[Finding]:
    for decl in ctx.declarations("principle"):
        crit, rev = decl.field("critique"), decl.field("revision")
        if crit is not None and isinstance(crit.value, ast.Str) and \
                REWRITE.match(crit.value.value):
            yield Finding(f"the critique request of principle `{decl.name}` asks for a rewrite",
                          crit.value.span, "a critique request asks what is wrong with the "
                          "reply; put the rewriting in `revision`")
        if rev is not None and isinstance(rev.value, ast.Str):
            text = rev.value.value
            if CRITIQUE.match(text) or (text.rstrip().endswith("?") and not REWRITE.match(text)):
                yield Finding(f"the revision request of principle `{decl.name}` asks for a "
                              "critique", rev.value.span, "a revision request says how to "
                              "rewrite the reply; put the questions in `critique`")


RULE = Rule(
    code="CL308", name="critique-revision-mixup", category="prompts",
    severity=Severity.WARNING,
    summary="A critique request phrased as a rewrite, or a revision request phrased as a "
    "critique.",
    rationale="The critique step asks the model what is wrong with its reply; the revision "
    "step asks it to rewrite the reply. Small models already confuse the two (few-shot "
    "examples exist to fix that); a critique request that says 'Rewrite...' makes the "
    "critique a second reply, and a revision request that asks a question makes the SFT "
    "data a critique instead of an answer to the user.",
    bad='''principle harmful {
  critique = "Rewrite the reply so that it is harmless."
  revision = "Is the reply harmful?"
}''',
    good='''principle harmful {
  critique = "Is the reply harmful? Point out each harmful part."
  revision = "Rewrite the reply so that it is harmless."
}''',
    check=check, needs_plan=False,
)
