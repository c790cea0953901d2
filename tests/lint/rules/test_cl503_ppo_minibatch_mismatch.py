"""CL503 ppo-minibatch-mismatch."""

from ..helpers import PIPELINE, PRINCIPLE, QUESTION, findings, line_of

RL = '''
stage feedback { policy = sft  judge = assistant  prompts = prompts }
stage reward_model { from = feedback }
stage ppo { policy = sft  reward = reward_model  prompts = prompts
  batch_size = 8  mini_batch_size = MINI }
'''


def test_non_divisor_and_oversized_minibatches_are_flagged(tmp_path):
    body = PRINCIPLE + QUESTION + PIPELINE + RL.replace("MINI", "3")
    found = findings(tmp_path, body, "CL503")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "mini_batch_size"),
         "`mini_batch_size = 3` does not divide `batch_size = 8` in PPO stage `ppo`")]
    found = findings(tmp_path, PRINCIPLE + QUESTION + PIPELINE + RL.replace("MINI", "16"),
                     "CL503")
    assert "larger than its `batch_size = 8`" in found[0].message


def test_divisor_is_fine(tmp_path):
    assert findings(tmp_path, PRINCIPLE + QUESTION + PIPELINE + RL.replace("MINI", "4"),
                    "CL503") == []
