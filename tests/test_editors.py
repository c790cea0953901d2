"""The TextMate grammar in editors/: applied to every shipped constitution by a small
TextMate-style tokenizer, its scopes agree with the compiler's own lexer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lark import Lark

from constlang.syntax.parser import grammar_text

REPO = Path(__file__).resolve().parents[1]
GRAMMAR = REPO / "editors" / "vscode" / "syntaxes" / "const.tmLanguage.json"
SHIPPED = sorted([*(REPO / "constitutions").glob("*.const"),
                  *(REPO / "constlang" / "std").glob("*.const")])
KEYWORDS = {"CONSTLANG", "CONSTITUTION", "IMPORT", "DROP", "OVERRIDE"}
DECL_KINDS = {"PRINCIPLE", "QUESTION", "EXAMPLE", "MODEL", "DATASET", "STAGE", "TEMPLATE_KW"}


@dataclass
class Rule:
    name: str | None = None
    match: re.Pattern[str] | None = None
    begin: re.Pattern[str] | None = None
    end: str | None = None
    captures: dict[str, str] = field(default_factory=dict)
    begin_captures: dict[str, str] = field(default_factory=dict)
    end_captures: dict[str, str] = field(default_factory=dict)
    patterns: list[Rule] = field(default_factory=list)


def load_grammar() -> list[Rule]:
    data = json.loads(GRAMMAR.read_text("utf-8"))
    repo = data["repository"]
    built: dict[str, list[Rule]] = {}

    def rules(items: list[dict]) -> list[Rule]:
        out: list[Rule] = []
        for item in items:
            if "include" in item:
                key = item["include"].lstrip("#")
                if key not in built:
                    built[key] = []  # a placeholder breaks include cycles
                    built[key].extend(rules([repo[key]]))
                out.extend(built[key])
                continue
            if "match" not in item and "begin" not in item:
                out.extend(rules(item.get("patterns", [])))
                continue
            names = {k: v["name"] for k, v in item.get("captures", {}).items()}
            out.append(Rule(
                item.get("name"), re.compile(item["match"]) if "match" in item else None,
                re.compile(item["begin"]) if "begin" in item else None, item.get("end"),
                names, {k: v["name"] for k, v in item.get("beginCaptures", {}).items()},
                {k: v["name"] for k, v in item.get("endCaptures", {}).items()},
                rules(item.get("patterns", []))))
        return out

    return rules(data["patterns"])


def tokenize(text: str, top: list[Rule]) -> list[tuple[str, ...]]:
    """The scopes of every character (newlines get their line's outer scopes), line by line
    as TextMate does: the earliest match wins, an open block's end first on a tie."""
    scopes: list[tuple[str, ...]] = []
    stack: list[tuple[re.Pattern[str] | None, Rule | None, tuple[str, ...]]] = [
        (None, None, ("source.const",))]

    def paint(line_scopes: list[tuple[str, ...]], m: re.Match[str], base: tuple[str, ...],
              caps: dict[str, str], start: int) -> None:
        for i in range(m.start(), m.end()):
            line_scopes[i - start] = base
        for group, name in caps.items():
            g = int(group)
            if m.group(g) is not None:
                for i in range(m.start(g), m.end(g)):
                    line_scopes[i - start] = base + (name,)

    for line in text.split("\n"):
        out: list[tuple[str, ...]] = [()] * len(line)
        pos = 0
        while pos <= len(line):
            end_re, rule, frame = stack[-1]
            patterns = rule.patterns if rule else top
            best: tuple[int, int, Rule | None, re.Match[str]] | None = None
            if end_re is not None:
                m = end_re.search(line, pos)
                if m:
                    best = (m.start(), 0, None, m)
            for order, r in enumerate(patterns, 1):
                regex = r.match or r.begin
                assert regex is not None
                m = regex.search(line, pos)
                if m and (best is None or m.start() < best[0]):
                    best = (m.start(), order, r, m)
            if best is None:
                for i in range(pos, len(line)):
                    out[i] = frame
                break
            start, _, r, m = best
            for i in range(pos, start):
                out[i] = frame
            if r is None:  # the open block ends
                assert rule is not None
                paint(out, m, frame, rule.end_captures, 0)
                stack.pop()
            elif r.match is not None:
                paint(out, m, frame + ((r.name,) if r.name else ()), r.captures, 0)
            else:
                inner = frame + ((r.name,) if r.name else ())
                paint(out, m, inner, r.begin_captures, 0)
                assert r.end is not None
                stack.append((re.compile(r.end), r, inner))
            if m.end() == pos and r is not None and r.match is not None:
                pos += 1  # an empty match must not stall
            else:
                pos = m.end() if m.end() > pos else pos + 1
            if pos > len(line):
                break
        scopes.extend(out)
        scopes.append(stack[-1][2])  # the newline
    return scopes[:len(text)]


@pytest.fixture(scope="module")
def grammar() -> list[Rule]:
    return load_grammar()


def has(scopes: tuple[str, ...], prefix: str) -> bool:
    return any(s.startswith(prefix) for s in scopes)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_grammar_scopes_agree_with_the_lexer(path: Path, grammar: list[Rule]):
    text = path.read_text("utf-8")
    scopes = tokenize(text, grammar)
    lexer = Lark(grammar_text(), parser="lalr", lexer="basic")
    tokens = list(lexer.lex(text, dont_ignore=True))
    checked = 0
    in_params = False  # the basic lexer reads a parameter `principle` as the keyword
    for i, tok in enumerate(tokens):
        in_params = (in_params or tok.type == "LPAR") and tok.type != "RPAR"
        start, end = tok.start_pos or 0, tok.end_pos or 0
        chars = scopes[start:end]
        after = next((t for t in tokens[i + 1:] if t.type not in ("WS", "NEWLINE")), None)
        is_field = after is not None and after.type == "EQUAL"
        where = f"{path.name}:{tok.line}:{tok.column} {tok.type} {str(tok)[:30]!r}"
        if tok.type in ("STRING", "LONG_STRING"):
            assert all(has(s, "string.") for s in chars), where
            # inside a string, only Jinja may colour words: never a constlang keyword
            assert not any(has(s, "keyword.control.const") or has(s, "storage.type")
                           or has(s, "variable.other.property.const") for s in chars), where
        elif tok.type == "COMMENT":
            assert all(has(s, "comment.line") for s in chars), where
        elif tok.type in DECL_KINDS and in_params:
            assert all(has(s, "variable.other") for s in chars), where
        elif is_field and (tok.type == "NAME" or tok.type in DECL_KINDS):
            assert all(has(s, "variable.other.property.const") for s in chars), where
        elif tok.type in KEYWORDS:
            assert all(has(s, "keyword.control.const") for s in chars), where
        elif tok.type in DECL_KINDS:
            assert all(has(s, "storage.type") for s in chars), where
        elif tok.type == "NUMBER":
            assert all(has(s, "constant.numeric") for s in chars), where
        elif tok.type in ("TRUE", "FALSE"):
            assert all(has(s, "constant.language") for s in chars), where
        elif tok.type == "NAME":
            assert not any(has(s, "keyword") or has(s, "storage") for s in chars), where
        else:
            continue
        checked += 1
    assert checked > 20


def test_jinja_inside_template_strings_is_embedded(grammar: list[Rule]):
    text = 'template t(prompt) """\nSay {{ prompt | trim }} {% if x %}no principle{% endif %}\n"""'
    scopes = tokenize(text, grammar)
    at = text.index("prompt |")
    assert has(scopes[at], "meta.embedded.expression.jinja")
    assert has(scopes[at], "string.quoted.triple")
    assert has(scopes[text.index("if x")], "keyword.control.jinja")
    word = text.index("principle{%")
    assert not has(scopes[word], "storage.type") and has(scopes[word], "string.quoted.triple")
    plain = text.index("Say")
    assert not has(scopes[plain], "meta.embedded")


def test_the_vscode_manifest_starts_the_server():
    manifest = json.loads((GRAMMAR.parents[1] / "package.json").read_text("utf-8"))
    (language,) = manifest["contributes"]["languages"]
    assert language["extensions"] == [".const"]
    (tm,) = manifest["contributes"]["grammars"]
    assert (GRAMMAR.parents[1] / tm["path"]).resolve() == GRAMMAR.resolve()
    default = manifest["contributes"]["configuration"]["properties"][
        "constlang.server.command"]["default"]
    assert default == ["constlang", "lsp"]
    assert '"server.command"' in (GRAMMAR.parents[1] / "extension.js").read_text("utf-8")
