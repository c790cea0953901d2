"""Safe fixes, as a property over every rule (issue #11, class 7): applying all safe fixes keeps
the plan hash and every comment, and no unsafe fix is applied without --unsafe-fixes.

Inputs: each rule's documented `bad` example (scaffolded to compile), the same with a comment
after every token, hand-made cases around lists, parameters and suppressions, and hypothesis
variations that sprinkle comments, repeat list items and add suppressions."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Token

from constlang.cli.lint import MAX_FIX_PASSES, _fix_files
from constlang.compile import compile_path
from constlang.lint.config import LintConfig
from constlang.lint.engine import lint_file
from constlang.lint.fix import apply_fixes
from constlang.lint.registry import RULES
from constlang.lint.suppress import _DIRECTIVE_RE
from constlang.source import SourceText
from constlang.syntax.parser import parse

from .helpers import HEADER, PIPELINE, PRINCIPLE, project, scaffolded

EVERY_RULE = tuple(r.code for r in RULES)
SAFE_RULES = [r.code for r in RULES if r.fix == "safe"]

# Hand-made inputs around the edits fixes make: lists, parameters, suppressions.
HANDMADE = {
    "tags-comment-between": PRINCIPLE.replace(
        "}\n", '  tags = ["harm", # why harm\n    "harm"]\n}\n', 1),
    "tags-comment-after-comma": PRINCIPLE.replace(
        "}\n", '  tags = [\n    "a",  # first\n    "a",  # second\n    "b",\n  ]\n}\n', 1),
    "tags-three-repeats": PRINCIPLE.replace(
        "}\n", '  tags = ["x", "x" # one\n, "x", # two\n "y"]\n}\n', 1),
    "tags-only-repeats-last": PRINCIPLE.replace(
        "}\n", '  tags = [\n    "a",\n    # kept\n    "a"\n  ]\n}\n', 1),
    "params-comment": PRINCIPLE + 'template respond_prompt(prompt, # shown\n  examples # not\n'
    ') """\n{{ prompt }}\n"""\n' + PIPELINE,
    "suppression-reason": PRINCIPLE.replace(
        "principle harmful {", "principle harmful {  # constlang: ignore[CL304] reviewed") +
    PIPELINE,
    "suppression-partial": PRINCIPLE.replace(
        "principle harmful {", "# constlang: ignore[CL304, CL103] later\nprinciple harmful {"),
    "suppression-own-line": "# constlang: ignore[CL304]\n" + PRINCIPLE + "# last\n",
    "padded-and-commented": PRINCIPLE.replace('"Point out', '  # note\n  " Point out') + PIPELINE,
}
BASES = {**{f"bad-{r.code}": scaffolded(r.bad) for r in RULES},
         **{k: HEADER + v for k, v in HANDMADE.items()}}


def tokens(text: str) -> list[Token]:
    """The tokens of a text that parses, in order (none when it does not parse)."""
    tree, _, errors = parse(SourceText("t.const", text))
    if tree is None or errors:
        return []
    found = [t for t in tree.scan_values(lambda v: isinstance(v, Token)) if t.end_pos]
    return sorted(found, key=lambda t: t.start_pos or 0)


def with_comments(text: str, after: list[int]) -> str:
    """A comment (then a new line) after each token whose index is in `after`."""
    ends = sorted({t.end_pos for i, t in enumerate(tokens(text)) if i in set(after)},
                  reverse=True)
    for n, end in enumerate(ends):
        assert end is not None
        text = f"{text[:end]}  # note {n}\n{text[end:]}"
    return text


def comments(text: str, suppressions: bool = True) -> Counter[str]:
    """The multiset of comment texts; a suppression counts by the reason written after its
    directive (the codes are what CL901's fix edits), and not at all without one (nor at all
    when `suppressions` is false)."""
    _, found, _ = parse(SourceText("t.const", text))
    out: Counter[str] = Counter()
    for tok in found:
        body = str(tok)
        m = _DIRECTIVE_RE.match(body)
        if m is not None:
            body = body[m.end():].strip() if suppressions else ""
        if body:
            out[body] += 1
    return out


def plan_hash(path: Path) -> str | None:
    plan = compile_path(path).plan
    return plan.hash if plan is not None else None


def fix_safely(path: Path, config: LintConfig) -> str:
    """Apply safe fixes pass after pass, as `lint --fix` does; every one applied is safe."""
    for _ in range(MAX_FIX_PASSES):
        result = lint_file(path, config)
        source = result.sources.get(result.display)
        if source is None:
            break
        own = [d for d in result.diagnostics if d.file == result.display]
        text, done = apply_fixes(source.text, own)
        assert all(d.fix is not None and d.fix.safe for d in done), done
        if not done:
            break
        path.write_text(text, "utf-8")
    return path.read_text("utf-8")


def check_safe_fixes(root: Path, text: str) -> None:
    """The property: every safe fix applied, the plan hash and the comments are the same, and
    `lint --fix` wrote exactly that (no unsafe fix among them)."""
    project(root, {"main.const": text})
    path = root / "main.const"
    config = LintConfig(select=EVERY_RULE, root=root)
    before = plan_hash(path)
    fixed = fix_safely(path, config)
    assert plan_hash(path) == before, f"the plan changed:\n{text}\n---\n{fixed}"
    assert comments(fixed) == comments(text), f"a comment changed:\n{text}\n---\n{fixed}"
    path.write_text(text, "utf-8")
    _fix_files([path], config, unsafe=False, diff=False, allow_outside_root=False)
    assert path.read_text("utf-8") == fixed


@pytest.mark.parametrize("name", sorted(BASES))
def test_safe_fixes_keep_plan_and_comments(tmp_path: Path, name: str) -> None:
    check_safe_fixes(tmp_path, BASES[name])


@pytest.mark.parametrize("name", sorted(BASES))
def test_safe_fixes_keep_comments_after_every_token(tmp_path: Path, name: str) -> None:
    text = BASES[name]
    check_safe_fixes(tmp_path, with_comments(text, list(range(len(tokens(text))))))


@st.composite
def variations(draw: st.DrawFn) -> str:
    text = BASES[draw(st.sampled_from(sorted(BASES)))]
    # repeat a tag (CL603 then has work to do), between existing items or at the end
    lists = [m.start() + 1 for m in re.finditer(r"tags\s*=\s*\[", text)]
    if lists and draw(st.booleans()):
        at = text.index("[", draw(st.sampled_from(lists))) + 1
        tag = draw(st.sampled_from(["harm", "Harm", "tone"]))
        text = f'{text[:at]}"{tag}", "{tag}",{text[at:]}'
    # a suppression at the end of a code line, sometimes with a reason
    if draw(st.booleans()):
        lines = text.split("\n")
        n = draw(st.integers(2, len(lines) - 1))
        if lines[n].strip() and "#" not in lines[n] and '"""' not in lines[n] \
                and not lines[n].startswith(("{{", "{%")):
            code = draw(st.sampled_from(["CL304", "CL103", "CL311", "CL603", "CL101, CL304"]))
            reason = draw(st.sampled_from(["", " reviewed", " # keep"]))
            lines[n] += f"  # constlang: ignore[{code}]{reason}"
            text = "\n".join(lines)
    count = len(tokens(text))
    if count:
        text = with_comments(text, draw(st.lists(st.integers(0, count - 1), max_size=8)))
    return text


@settings(max_examples=60)
@given(variations())
def test_safe_fixes_keep_plan_and_comments_under_variation(tmp_path_factory: pytest.
                                                           TempPathFactory, text: str) -> None:
    check_safe_fixes(tmp_path_factory.mktemp("fix"), text)


def test_rules_declared_safe_are_the_ones_the_property_covers() -> None:
    # a rule whose fixes change the plan must be declared unsafe (see the rules' comments)
    assert sorted(SAFE_RULES) == ["CL603", "CL901"]


@pytest.mark.parametrize("rule", [r for r in RULES if r.fix != "safe"], ids=lambda r: r.code)
def test_fixes_of_rules_not_declared_safe_are_never_safe(tmp_path: Path, rule) -> None:
    project(tmp_path, {"main.const": scaffolded(rule.bad)})
    result = lint_file(tmp_path / "main.const", LintConfig(select=(rule.code,), root=tmp_path))
    found = [d for d in result.diagnostics if d.code == rule.code]
    assert found
    assert not any(d.fix is not None and d.fix.safe for d in found)
    if rule.fix is None:
        assert all(d.fix is None for d in found)


@pytest.mark.parametrize("name", sorted(BASES))
def test_unsafe_fixes_keep_comments_too(tmp_path: Path, name: str) -> None:
    # unsafe fixes may change the plan (that is why they are unsafe), never the comments;
    # removing a suppression with its reason is the one unsafe fix that drops comment text
    text = BASES[name]
    text = with_comments(text, list(range(len(tokens(text)))))
    project(tmp_path, {"main.const": text})
    path = tmp_path / "main.const"
    _fix_files([path], LintConfig(select=EVERY_RULE, root=tmp_path), unsafe=True, diff=False,
               allow_outside_root=False)
    assert comments(path.read_text("utf-8"), False) == comments(text, False)
