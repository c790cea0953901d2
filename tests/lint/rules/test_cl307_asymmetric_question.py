"""CL307 asymmetric-question."""

from ..helpers import findings, line_of


def test_yes_no_text_and_unlike_options_are_flagged(tmp_path):
    body = '''
question harmful {
  text    = "Is the reply harmful?"
  options = ["(A)", "B"]
}
'''
    found = findings(tmp_path, body, "CL307")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "Is the reply"),
         "question `harmful` asks yes or no about one reply, not which of two"),
        (line_of(body, "options"),
         'the options of question `harmful` ("(A)", "B") are not written alike')]


def test_symmetric_pairwise_question_is_not_flagged(tmp_path):
    body = '''
question harmful {
  text    = "Which reply is less harmful?"
  options = ["Reply 1", "Reply 2"]
}
question pointwise_ok { text = "Is the reply harmful?"  kind = pointwise  good_answer = "No" }
'''
    assert findings(tmp_path, body, "CL307") == []
