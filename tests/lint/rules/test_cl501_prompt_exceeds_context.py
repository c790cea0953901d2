"""CL501 prompt-exceeds-context."""

from ..helpers import PRINCIPLE, findings, line_of

STAGES = '''
model assistant { source = "embedded:smollm2-135m-instruct"  max_new_tokens = TOKENS }
dataset prompts { path = "prompts.jsonl" }
stage critique_revision { model = assistant  prompts = prompts }
'''


def test_long_generations_overflow_the_embedded_context(tmp_path):
    body = PRINCIPLE + STAGES.replace("TOKENS", "4096")
    found = findings(tmp_path, body, "CL501")
    steps = [d.message.split(" prompt")[0] for d in found]
    assert steps == ["the critique", "the revise"]  # respond: 256 + ~1 + 4096 fits
    assert {d.span.line for d in found} == {line_of(body, "stage critique_revision")}
    assert "8,192-token context of model `assistant`" in found[0].message


def test_declared_context_length_is_used(tmp_path):
    body = PRINCIPLE + STAGES.replace("TOKENS", "256").replace(
        "max_new_tokens", "context_length = 512  max_new_tokens")
    assert [d.message.split(" prompt")[0] for d in findings(tmp_path, body, "CL501")] == [
        "the respond", "the critique", "the revise"]


def test_demo_sized_generations_fit(tmp_path):
    assert findings(tmp_path, PRINCIPLE + STAGES.replace("TOKENS", "256"), "CL501") == []


def test_a_template_that_cannot_render_is_reported_at_its_failing_line(tmp_path):
    template = ('template respond_prompt(prompt, examples) """\n  {{ prompt }}\n\n'
                '  {{ examples.append(1) }}\n"""\n')
    body = PRINCIPLE + template + STAGES.replace("TOKENS", "256")
    [found] = findings(tmp_path, body, "CL501")
    assert found.message.startswith("template `respond_prompt` cannot be rendered for the "
                                    "respond step of stage `critique_revision`: blocked by")
    assert "line 3 of the template" not in found.message
    assert (found.span.line, found.span.column) == (line_of(body, "{{ examples"), 3)
