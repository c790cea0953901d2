"""Registry: every lint rule, in the order they run and are documented.

Read it top to bottom like a table of contents. A new rule is one module in rules/ exposing
`RULE`, and one line here. `python -m constlang.lint.registry --write-docs` regenerates
docs/lint.md from this list.
"""

from __future__ import annotations

import sys

from constlang.lint.docs import DOCS_PATH, render_docs
from constlang.lint.rule import Rule
from constlang.lint.rules import (
    asymmetric_clamp,
    asymmetric_question,
    contradictory_checks,
    critique_never_passes,
    critique_revision_mixup,
    duplicate_principle,
    duplicate_question,
    duplicate_tag,
    empty_text,
    evasive_revision,
    greedy_response_pairs,
    incomplete_example,
    invalid_suppression,
    invalid_version,
    name_case,
    never_sampled,
    padded_text,
    plaintext_endpoint,
    positional_question,
    ppo_minibatch_mismatch,
    ppo_without_kl,
    prompt_exceeds_context,
    rarely_sampled,
    soft_labels_discarded,
    tag_format,
    template_drops_input,
    unchecked_small_judge,
    unclamped_chain_of_thought,
    unmatched_check_scope,
    unswapped_small_judge,
    unused_check,
    unused_dataset,
    unused_example,
    unused_model,
    unused_principle,
    unused_question,
    unused_suppression,
    unused_template,
    unused_template_parameter,
    weight_ignored,
)

RULES: tuple[Rule, ...] = (
    # unused: declarations nothing uses
    unused_template.RULE,  # CL101
    unused_example.RULE,  # CL102
    unused_principle.RULE,  # CL103
    unused_question.RULE,  # CL104
    unused_template_parameter.RULE,  # CL105
    unused_model.RULE,  # CL106
    unused_dataset.RULE,  # CL107
    unused_check.RULE,  # CL108
    # sampling: what the draw can and cannot reach
    never_sampled.RULE,  # CL201
    rarely_sampled.RULE,  # CL202
    weight_ignored.RULE,  # CL203
    # prompts: the text the models see
    empty_text.RULE,  # CL301
    duplicate_principle.RULE,  # CL302
    duplicate_question.RULE,  # CL303
    evasive_revision.RULE,  # CL304
    critique_never_passes.RULE,  # CL305
    positional_question.RULE,  # CL306
    asymmetric_question.RULE,  # CL307
    critique_revision_mixup.RULE,  # CL308
    incomplete_example.RULE,  # CL309
    template_drops_input.RULE,  # CL310
    padded_text.RULE,  # CL311
    # feedback: labels, clamping, position bias, judges
    soft_labels_discarded.RULE,  # CL401
    unclamped_chain_of_thought.RULE,  # CL402
    asymmetric_clamp.RULE,  # CL403
    unswapped_small_judge.RULE,  # CL404
    unchecked_small_judge.RULE,  # CL405
    greedy_response_pairs.RULE,  # CL406
    # training: contexts and optimiser settings
    prompt_exceeds_context.RULE,  # CL501
    ppo_without_kl.RULE,  # CL502
    ppo_minibatch_mismatch.RULE,  # CL503
    # naming: names, tags, metadata
    name_case.RULE,  # CL601
    tag_format.RULE,  # CL602
    duplicate_tag.RULE,  # CL603
    invalid_version.RULE,  # CL604
    # checks: scope by tags, contradictions
    unmatched_check_scope.RULE,  # CL701
    contradictory_checks.RULE,  # CL702
    # models: where models run and how they are reached
    plaintext_endpoint.RULE,  # CL801
    # suppression: run after inline suppressions were applied
    unused_suppression.RULE,  # CL901
    invalid_suppression.RULE,  # CL902
)

BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}


def lookup(key: str) -> Rule | None:
    """A rule by code (case-insensitive) or by name."""
    return BY_CODE.get(key.upper()) or BY_NAME.get(key.lower())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write-docs"]:
        DOCS_PATH.write_text(render_docs(RULES), encoding="utf-8")
        print(f"wrote {DOCS_PATH}")
        return 0
    if args == ["--check-docs"]:
        fresh = DOCS_PATH.is_file() and DOCS_PATH.read_text(encoding="utf-8") == render_docs(RULES)
        print("docs/lint.md is up to date" if fresh else
              "docs/lint.md is stale: run python -m constlang.lint.registry --write-docs")
        return 0 if fresh else 1
    print("usage: python -m constlang.lint.registry --write-docs | --check-docs", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
