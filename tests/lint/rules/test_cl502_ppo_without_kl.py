"""CL502 ppo-without-kl."""

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

RL = '''
stage feedback { policy = sft  judge = assistant  prompts = prompts }
stage reward_model { from = feedback }
stage ppo { policy = sft  reward = reward_model  prompts = prompts  kl_coef = KL }
'''


def test_zero_kl_is_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + RL.replace("KL", "0")
    found = findings(tmp_path, body, "CL502")
    assert [d.span.line for d in found] == [line_of(body, "kl_coef")]


def test_positive_kl_is_fine(tmp_path):
    assert findings(tmp_path, PRINCIPLE + QUESTION + PIPELINE + RL.replace("KL", "0.05"),
                    "CL502") == []
