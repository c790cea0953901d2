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


GROUP = '''
stage feedback { policy = sft  judge = assistant  prompts = prompts }
stage reward_model { from = feedback }
stage grpo { policy = sft  reward = reward_model  prompts = prompts  beta = 0 }
stage rloo { policy = sft  reward = reward_model  prompts = prompts  beta = 0.05 }
'''


def test_zero_beta_of_a_group_rl_stage_is_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + GROUP
    found = findings(tmp_path, body, "CL502")
    assert [(d.span.line, d.message) for d in found] == [(
        line_of(body, "beta = 0 "), "GRPO stage `grpo` has `beta = 0`: nothing keeps the policy "
        "near its reference")]
