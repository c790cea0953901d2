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
