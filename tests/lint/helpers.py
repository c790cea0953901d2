"""Helpers the lint tests share: lint a snippet in a throwaway project, pick findings."""

from __future__ import annotations

import re
from pathlib import Path

from constlang.errors import Diagnostic, Severity
from constlang.lint.config import LintConfig
from constlang.lint.engine import lint_file

HEADER = 'constlang 1\n\nconstitution "test" { version = "0.1.0" }\n\n'

# A model, a dataset and a principle, enough for a critique_revision stage.
BASICS = '''
model assistant { source = "embedded:smollm2-135m-instruct" }
dataset prompts { path = "prompts.jsonl" }
'''

PRINCIPLE = '''
principle harmful {
  critique = "Point out anything harmful in the reply."
  revision = "Rewrite the reply without the harm, and keep helping with the rest."
}
'''

QUESTION = '''
question less_harmful { text = "Which reply is less harmful?" }
question is_harmful {
  text = "Is the reply harmful?"  kind = pointwise  good_answer = "No"
}
'''

PIPELINE = BASICS + '''
stage critique_revision { model = assistant  prompts = prompts }
stage sft { from = critique_revision }
'''


def project(tmp_path: Path, files: dict[str, str], marker: bool = True) -> Path:
    """Write a project (an empty constlang.toml, a 4-row dataset, the files); its folder."""
    if marker:
        (tmp_path / "constlang.toml").write_text("", encoding="utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hello"}\n' * 4, encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        for data in re.findall(r'path = "(\w[\w/.-]*\.jsonl)"', text):  # E207 wants them
            (tmp_path / data).parent.mkdir(parents=True, exist_ok=True)
            if not (tmp_path / data).exists():
                (tmp_path / data).write_text('{"prompt": "hello"}\n', encoding="utf-8")
    return tmp_path


def lint_text(tmp_path: Path, body: str, *, select: tuple[str, ...] | None = None,
              header: bool = True, config: LintConfig | None = None) -> list[Diagnostic]:
    """Lint `body` (after a version header and constitution) as main.const."""
    project(tmp_path, {"main.const": (HEADER if header else "") + body})
    cfg = config or LintConfig(select=select, root=tmp_path)
    return lint_file(tmp_path / "main.const", cfg).diagnostics


def findings(tmp_path: Path, body: str, code: str) -> list[Diagnostic]:
    """The findings of one rule on a snippet that must compile (so no rule is skipped)."""
    diags = lint_text(tmp_path, body, select=(code,))
    errors = [d for d in diags if d.severity is Severity.ERROR and d.code.startswith("E")]
    assert not errors, f"the test snippet does not compile: {errors}"
    return [d for d in diags if d.code == code]


def lines(diags: list[Diagnostic]) -> list[int]:
    return [d.span.line for d in diags if d.span]


def line_of(body: str, needle: str) -> int:
    """The line of `needle` in main.const when `body` follows HEADER."""
    text = HEADER + body
    return text[:text.index(needle)].count("\n") + 1


# Declarations a snippet may refer to without declaring; added when it names them.
SCAFFOLD = {
    "harmful": 'principle harmful { critique = "Is it harmful?"  revision = "Rewrite it." }',
    "m": 'model m { source = "embedded:smollm2-135m-instruct" }',
    "assistant": 'model assistant { source = "embedded:smollm2-135m-instruct" }',
    "d": 'dataset d { path = "prompts.jsonl" }',
    "red_team": 'dataset red_team { path = "prompts.jsonl" }',
    "critique_revision": "stage critique_revision { model = m  prompts = d }",
    "sft": "stage sft { from = critique_revision }",
    "feedback": "stage feedback { policy = sft  judge = m  prompts = d }",
    "reward_model": "stage reward_model { from = feedback }",
}
DECLARED = re.compile(r"^\s*(?:principle|question|example|model|dataset|stage|template|check)"
                      r"\s+(\w+)", re.MULTILINE)


def scaffolded(snippet: str) -> str:
    """The snippet, with the declarations it refers to but does not declare, and a header."""
    declared = set(DECLARED.findall(snippet))
    text = snippet
    added = True
    while added:
        added = False
        for name, decl in SCAFFOLD.items():
            if name not in declared and re.search(rf"[=\[,]\s*{name}\b", text):
                text += "\n" + decl
                declared.add(name)
                added = True
    # stages need something to sample (E112)
    if "stage critique_revision" in text and not re.search(r"^\s*principle ", text, re.M):
        text += '\nprinciple any { critique = "Is it harmful?"  revision = "Rewrite it." }'
    if "stage feedback" in text and not re.search(r"^\s*question ", text, re.M):
        text += '\nquestion any { text = "Which reply is better?" }'
    header = "constlang 1\n" if "constitution" in snippet else \
        'constlang 1\nconstitution "docs" { version = "0.1.0" }\n'
    return header + text + "\n"
