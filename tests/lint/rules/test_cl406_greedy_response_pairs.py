"""CL406 greedy-response-pairs."""

from ..helpers import PRINCIPLE, QUESTION, findings, line_of

STAGES = '''
model assistant { source = "embedded:smollm2-135m-instruct"  temperature = TEMP }
dataset prompts { path = "prompts.jsonl" }
stage critique_revision { model = assistant  prompts = prompts }
stage sft { from = critique_revision }
stage feedback { policy = sft  judge = assistant  prompts = prompts }
'''


def test_greedy_policy_through_the_sft_stage_is_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + STAGES.replace("TEMP", "0")
    found = findings(tmp_path, body, "CL406")
    assert [d.span.line for d in found] == [line_of(body, "temperature = 0")]
    assert "both replies of every pair are the same" in found[0].message


def test_sampling_policy_is_fine(tmp_path):
    assert findings(tmp_path, PRINCIPLE + QUESTION + STAGES.replace("TEMP", "0.7"),
                    "CL406") == []


BEST_OF_N = '''
model assistant { source = "embedded:smollm2-135m-instruct"  temperature = TEMP }
dataset prompts { path = "prompts.jsonl" }
stage best_of_n { policy = assistant  prompts = prompts  SETTINGS }
'''


def best_of_n(temp: str, settings: str = "") -> str:
    return BEST_OF_N.replace("TEMP", temp).replace("SETTINGS", settings)


def test_best_of_n_sampling_several_replies_greedily_is_flagged(tmp_path):
    body = best_of_n("0")
    found = findings(tmp_path, body, "CL406")
    assert [d.span.line for d in found] == [line_of(body, "temperature = 0")]
    assert "samples 8 replies per prompt" in found[0].message
    override = best_of_n("0.7", "temperature = 0")
    found = findings(tmp_path, override, "CL406")
    assert [d.span.line for d in found] == [line_of(override, "stage best_of_n")]


def test_best_of_n_with_a_temperature_or_one_sample_is_fine(tmp_path):
    assert findings(tmp_path, best_of_n("0.7"), "CL406") == []
    assert findings(tmp_path, best_of_n("0", "temperature = 0.9"), "CL406") == []
    assert findings(tmp_path, best_of_n("0", "samples = 1"), "CL406") == []
