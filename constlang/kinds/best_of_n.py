"""Stage kind best_of_n: its settings, its cost estimate and its record."""

from __future__ import annotations

from pydantic import Field

from constlang.declarations import MAX_SEED, Strict, names, ref, refs, selection
from constlang.kinds import _steps
from constlang.kinds.record import Cost, CostInputs, StageKind, StepSpec
from constlang.words import counted


class BestOfNSettings(Strict):
    policy: str = ref("stage|model", "The model, or a trained policy stage (e.g. sft), that "
                      "samples the replies.")
    prompts: str | list[str] = refs(
        "dataset", "Prompts to sample replies for: one dataset or a list (e.g. [red_team, "
        "benign]); each row keeps its dataset's tags, which decide the checks that apply.")
    samples: int = Field(8, ge=1, le=256, description="Replies sampled per prompt.")
    checks: list[str] = selection(
        "check", "Checks run on every reply; a reply passes when no check that applies to its "
        "prompt fails.")
    keep: int = Field(1, ge=1, le=256, description="At most this many passing replies kept per "
                      "prompt as SFT rows.")
    rank_by: str | None = ref(
        "stage", "A reward_model stage that scores the passing replies: the highest-scored are "
        "kept. Without it: the first passing ones in sample order, each distinct from those "
        "kept before it.", default=None)
    pairs_per_prompt: int = Field(
        2, ge=0, le=256, description="At most this many preference pairs per prompt, each a "
        "passing reply over a failing one (spread over the replies; 0: none).")
    examples: list[str] = Field(
        default_factory=list, json_schema_extra={"ref": "example", "selection": True},
        description="Few-shot examples shown as earlier turns while sampling only, each prompt "
        "answered by the example's revision (or its response when it has none): the SFT rows "
        "hold the bare prompt and the kept reply (context distillation).")
    system: str | None = Field(
        None, description="A system message shown while sampling only, like `examples`: the "
        "guidance the model is distilled from; the SFT rows do not hold it. The respond "
        "template also receives the prompt's `tags`, to add guidance by tag.")
    keep_truncated: bool = Field(
        False, description="Keep replies cut off at max_new_tokens (as SFT rows and as pair "
        "members).")
    drop_meta: bool = Field(
        True, description="Never keep replies that comment on a reply instead of being one.")
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="Sampling temperature; default: the model's.")
    top_p: float | None = Field(None, gt=0.0, le=1.0,
                                description="Nucleus sampling mass; default: the model's.")
    max_new_tokens: int | None = Field(None, ge=1, le=32768,
                                       description="Reply length limit; default: the model's.")
    batch_size: int = Field(8, ge=1, le=4096, description="Prompts sampled together.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for sampling.")
    respond_template: str = ref("template", "Template of the sampled replies.",
                                default="respond_prompt")


def cost(s: BestOfNSettings, inputs: CostInputs) -> Cost:
    """`samples` replies per prompt of every dataset (each scored once with `rank_by`)."""
    counts = [inputs.rows(d) for d in names(s.prompts)]
    n = None if None in counts else sum(c for c in counts if c is not None)
    calls = None if n is None else n * s.samples * (2 if s.rank_by else 1)
    length = s.max_new_tokens
    if length is None:
        try:
            length = inputs.model(s.policy).max_new_tokens
        except (KeyError, StopIteration):  # a policy stage: its model is not looked up here
            length = None
    tokens = None if n is None or length is None else n * s.samples * length
    scored = ", each scored by the reward model" if s.rank_by else ""
    return Cost(n, calls, tokens, f"{counted(s.samples, 'sample')} per prompt{scored}")


KIND = StageKind(
    "best_of_n", BestOfNSettings,
    "A policy samples N replies per prompt; the checks keep the passing ones as SFT rows and "
    "pair passing over failing replies (rejection sampling).",
    "runtime-best-of-n.md", cost,
    steps=(StepSpec("respond", "respond_template", "policy", "generate",
                    (*_steps.RESPOND_VARIABLES, "tags"), few_shot=("response",)),),
    stage_refs={"policy": _steps.POLICY_KINDS, "rank_by": ("reward_model",)},
    base_model="policy")
