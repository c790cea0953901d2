"""CL404 unswapped-small-judge, and the size parser it relies on."""

import pytest

from constlang import plan as P
from constlang.lint.rules._models import parameters

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

JUDGE = '\nmodel judge { source = "SOURCE" }\n'
FEEDBACK = ("stage feedback { policy = sft  judge = judge  prompts = prompts\n"
            "  swap_positions = false }\n")


def test_unswapped_small_judge_is_flagged(tmp_path):
    body = (PRINCIPLE + QUESTION + JUDGE.replace("SOURCE", "HuggingFaceTB/SmolLM2-1.7B-Instruct")
            + PIPELINE + FEEDBACK)
    found = findings(tmp_path, body, "CL404")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "swap_positions"),
         "stage `feedback` scores each pair in one order only, with a 1.7B judge (`judge`)")]
    assert found[0].fix is not None and not found[0].fix.safe


def test_large_or_unknown_judges_are_not_flagged(tmp_path):
    for source in ("meta-llama/Llama-3.1-70B-Instruct", "my-org/judge"):
        body = PRINCIPLE + QUESTION + JUDGE.replace("SOURCE", source) + PIPELINE + FEEDBACK
        assert findings(tmp_path, body, "CL404") == []


@pytest.mark.parametrize(("source", "size"), [
    ("embedded:smollm2-135m-instruct", 135e6), ("Qwen/Qwen2.5-0.5B-Instruct", 0.5e9),
    ("mistralai/Mixtral-8x7B-v0.1", 56e9), ("meta-llama/Meta-Llama-3-8b", 8e9),
    ("gpt2", None), ("./models/judge", None),
])
def test_parameters_from_source_names(source, size):
    assert parameters(P.Model(id="m", source=source)) == size
