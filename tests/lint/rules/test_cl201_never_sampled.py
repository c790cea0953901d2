"""CL201 never-sampled."""

from ..helpers import BASICS, PIPELINE, PRINCIPLE, findings, line_of

ZERO = '''
principle lecturing {
  critique = "Is the reply preachy?"
  revision = "Remove the sermon and keep helping."
  weight   = 0
}
'''


def test_selected_principle_of_weight_zero_is_flagged(tmp_path):
    body = PRINCIPLE + ZERO + PIPELINE
    found = findings(tmp_path, body, "CL201")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "weight   = 0") ,
         "principle `lecturing` has weight 0, so no stage ever samples it")]


def test_in_order_stage_that_never_reaches_a_principle(tmp_path):
    extra = "".join(f'''
principle p{i} {{ critique = "Is the reply bad in way {i}?"  revision = "Fix way {i}." }}
''' for i in range(10))
    stage = BASICS + '''
stage critique_revision { model = assistant  prompts = prompts  sampling = in_order  revisions = 2 }
'''
    # 4 prompts x 2 rounds = 8 rounds for 11 principles: the last three are never used
    found = findings(tmp_path, PRINCIPLE + extra + stage, "CL201")
    assert [d.message.split(":")[0] for d in found] == [
        "principle `p7` is never sampled", "principle `p8` is never sampled",
        "principle `p9` is never sampled"]
    assert "4×2 = 8 rounds" in found[0].message


def test_zero_weight_question_asked_per_comparison(tmp_path):
    body = PRINCIPLE + '''
question q { text = "Which reply is less harmful?"  weight = 0 }
question r { text = "Which reply is kinder?" }
''' + PIPELINE + "stage feedback { policy = sft  judge = assistant  prompts = prompts }\n"
    found = findings(tmp_path, body, "CL201")
    assert [d.message for d in found] == [
        "question `q` has weight 0, so no comparison ever asks it"]


def test_weighted_and_reachable_principles_are_not_flagged(tmp_path):
    body = PRINCIPLE + ZERO.replace("weight   = 0", "weight   = 0.5") + PIPELINE
    assert findings(tmp_path, body, "CL201") == []
