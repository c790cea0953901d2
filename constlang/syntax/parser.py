"""Parse: .const text → Lark parse tree, with syntax errors turned into Diagnostics."""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from constlang.errors import Diagnostic, Severity
from constlang.gc_pause import gc_paused
from constlang.source import SourceText

# What each terminal means to a person reading an error.
TERMINAL_NAMES = {
    "NAME": "a name", "STRING": "a string", "LONG_STRING": "a string", "NUMBER": "a number",
    "INT": "a whole number", "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`", "RSQB": "`]`",
    "LPAR": "`(`", "RPAR": "`)`", "EQUAL": "`=`", "COMMA": "`,`", "TRUE": "`true`",
    "FALSE": "`false`", "OVERRIDE": "`override`", "DECL_KIND": "a declaration keyword",
    "TEMPLATE_KW": "`template`", "$END": "the end of the file",
}
KEYWORDS = ("CONSTLANG", "CONSTITUTION", "IMPORT", "TEMPLATE", "DROP")


def grammar_text() -> str:
    """The grammar, from inside the installed package or from the source checkout."""
    try:
        packaged = resources.files("constlang").joinpath("_grammar/constlang.lark")
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        pass
    return (Path(__file__).resolve().parents[2] / "grammar" / "constlang.lark").read_text("utf-8")


# A ContextVar, not a module list: the built-once parser is shared by every thread and
# asyncio task, and each parse() points it at that parse's own list.
_comment_sink: ContextVar[list[Token]] = ContextVar("constlang_comment_sink")


def _collect_comment(token: Token) -> Token:
    _comment_sink.get().append(token)
    return token


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True,
                propagate_positions=True, maybe_placeholders=True, cache=True,
                lexer_callbacks={"COMMENT": _collect_comment})


def parse(source: SourceText) -> tuple[Tree | None, list[Token], list[Diagnostic]]:
    """Parse a file; returns the tree (None on a syntax error), its comments and diagnostics."""
    parser = _parser()
    comments: list[Token] = []
    reset = _comment_sink.set(comments)
    try:
        with gc_paused():
            tree = parser.parse(source.text)
    except UnexpectedInput as exc:
        return None, [], [_unclosed_brace(source, exc) or _syntax_diagnostic(source, exc)]
    except RecursionError:
        return None, [], [Diagnostic("E001", Severity.ERROR, "nesting is too deep to parse",
                                     source.span(0, 0), "flatten the nested lists")]
    finally:
        _comment_sink.reset(reset)
    return tree, comments, []


def _describe(token_type: str) -> str:
    if token_type in TERMINAL_NAMES:
        return TERMINAL_NAMES[token_type]
    if token_type in KEYWORDS:
        return f"`{token_type.lower()}`"
    return f"`{token_type.lower()}`" if token_type.isalpha() else token_type


def _expected(expected: set[str]) -> str:
    names = sorted({_describe(t) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else ""


def _syntax_diagnostic(source: SourceText, exc: UnexpectedInput) -> Diagnostic:
    text = source.text
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            if text.startswith('"""', pos) or _after_empty_string(text, pos):
                return _unterminated_triple(source, pos)
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end == -1 else line_end
            return Diagnostic("E002", Severity.ERROR, "unterminated string",
                              source.span(pos, line_end),
                              'close the string with `"` on the same line, or use `"""` '
                              "for text over several lines")
        shown = repr(ch)[1:-1] if ch and not ch.isprintable() else ch
        allowed = set(exc.allowed or ())
        help_ = CHARACTER_HELP.get(ch) if ch != ":" or "EQUAL" in allowed else (
            "a value with `:` in it is text: put it in double quotes")
        if help_ is None and ch.isalpha() and not ch.isascii():
            help_ = NAME_RULE
        if help_ is None and allowed:
            help_ = f"expected {_expected(allowed)}"
        return Diagnostic("E002", Severity.ERROR, f"unexpected character `{shown}`",
                          source.span(pos, pos + 1), help_)
    if isinstance(exc, UnexpectedEOF):
        end = len(text)
        return Diagnostic("E001", Severity.ERROR, "unexpected end of file",
                          source.span(end, end), f"expected {_expected(set(exc.expected))}")
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = _accepted(exc)
    if tok.type == "$END":
        end = len(text)
        return Diagnostic("E001", Severity.ERROR, "unexpected end of file",
                          source.span(end, end), _eof_help(expected))
    start = tok.start_pos or 0
    end = tok.end_pos or start + len(str(tok))
    if tok.type == "STRING" and _after_empty_string(text, start):
        return _unterminated_triple(source, start)
    found = str(tok)
    shown = found if len(found) <= 30 else found[:27] + "…"
    help_ = f"expected {_expected(expected)}"
    previous = _previous_token(exc)
    if expected == {"EQUAL"} and previous is not None and previous.type == "NAME":
        help_ = f"expected `=` after `{previous}` (fields are written `name = value`)"
    elif tok.type == "NAME" and len(expected) > 4 and found.lower() in DECLARATION_WORDS:
        help_ = f"keywords are lowercase: did you mean `{found.lower()}`?"
    elif len(expected) > 4 and {"IMPORT", "CONSTITUTION"} & expected:
        help_ = "expected a declaration: " + ", ".join(DECLARATION_WORDS)
    elif tok.type in ("NUMBER", "INT") and "NAME" in expected and len(expected) <= 2:
        help_ = NAME_RULE
    elif tok.type == "COMMA" and "RBRACE" in expected:
        help_ = "fields are separated by spaces or new lines, not commas"
    elif tok.type in ("NAME", "DECL_KIND") and "EQUAL" in expected:
        help_ = "write `name = value`"
    elif tok.type == "EQUAL" and "LBRACE" in expected:
        help_ = "a declaration's fields go inside `{ ... }`"
    elif "RBRACE" in expected and tok.type != "RBRACE" and "NAME" in expected:
        help_ = "expected a field `name = value` or `}`"
    return Diagnostic("E001", Severity.ERROR, f"unexpected `{shown}`",
                      source.span(start, end), help_)


DECLARATION_WORDS = ("constlang", "constitution", "import", "principle", "check", "question",
                     "example", "template", "model", "dataset", "stage", "override", "drop")
CHARACTER_HELP = {
    "'": 'strings are written in double quotes: "..."',
    ":": "fields are written `name = value`",
    ";": "fields are separated by spaces or new lines; no `;` is needed",
    "\u201c": 'use straight double quotes: "..."',
    "\u201d": 'use straight double quotes: "..."',
    "\u2018": 'use straight double quotes: "..."',
    "\u2019": 'use straight double quotes: "..."',
}
NAME_RULE = "names use ASCII letters, digits and underscores, and start with a letter or `_`"


# a line that starts a declaration: met inside a body, the body before it was never closed
DECLARATION_START = re.compile(
    r'[ \t]*(?:override[ \t]+)?(?:(?:principle|question|example|model|dataset|stage|check)'
    r'[ \t]+\w+[ \t]*\{|template[ \t]+\w+[ \t]*\(|(?:import|constitution)[ \t]+"'
    r'|drop[ \t]+\w+[ \t]+\w)')


def _unclosed_brace(source: SourceText, exc: UnexpectedInput) -> Diagnostic | None:
    """E001 at a `{` never closed, when the parser gave up at the end of the file or at a line
    that starts a declaration, with an open `{` before it; the place it gave up is related."""
    if not isinstance(exc, UnexpectedToken):
        return None
    state = getattr(exc.interactive_parser, "parser_state", None)
    stack = getattr(state, "value_stack", None) or []
    opened = [v for v in stack if isinstance(v, Token) and v.type in ("LBRACE", "LSQB", "LPAR")]
    if not opened or opened[-1].type != "LBRACE":  # an open `[` or `(` has its own help
        return None
    tok = exc.token
    text = source.text
    if tok.type == "$END":
        gave_up = len(text)
    else:
        line_start = text.rfind("\n", 0, tok.start_pos or 0) + 1
        found = DECLARATION_START.match(text, line_start)
        if found is None or line_start <= (opened[-1].start_pos or 0):  # on the brace's line
            return None
        gave_up = line_start + len(found.group()) - len(found.group().lstrip())
    brace = opened[-1]
    start = brace.start_pos or 0
    owner = _brace_owner(text, start)
    where = "the end of the file" if tok.type == "$END" else "the next declaration"
    return Diagnostic(
        "E001", Severity.ERROR, f"`{{` of {owner} is never closed",
        source.span(start, start + 1), f"add `}}` where its body ends, before {where}",
        related=(("where the parser gave up", source.span(gave_up, gave_up)),))


def _brace_owner(text: str, brace: int) -> str:
    """What a `{` opens, in words, from the text of its line before it: principle `p`."""
    line = text[text.rfind("\n", 0, brace) + 1:brace].split()
    words = [w for w in line if w != "override"]
    if len(words) >= 2 and words[0] in DECLARATION_WORDS:
        return f"{words[0]} `{words[1].strip(chr(34))}`"
    return f"line {text.count(chr(10), 0, brace) + 1}" if not words else f"`{' '.join(words)}`"


def _previous_token(exc: UnexpectedToken) -> Token | None:
    history = getattr(exc, "token_history", None)
    return history[-1] if history else None


def _accepted(exc: UnexpectedToken) -> set[str]:
    """The terminals the parser really takes here; `exc.expected` also lists the lookaheads of
    every LALR state merged with this one (a `]` after `a = 1` outside any list)."""
    interactive = getattr(exc, "interactive_parser", None)
    accepted = set(interactive.accepts()) if interactive is not None else set()
    return accepted or set(exc.expected or ())


def _after_empty_string(text: str, pos: int) -> bool:
    '''A triple quote never closed lexes as an empty string `""` and then a stray `"`.'''
    return pos >= 2 and text[pos - 2:pos] == '""' and (pos < 3 or text[pos - 3] != '"')


def _unterminated_triple(source: SourceText, pos: int) -> Diagnostic:
    """E002 at the opening triple quote, given its offset or the offset just past `""`."""
    if not source.text.startswith('"""', pos):
        pos -= 2
    return Diagnostic("E002", Severity.ERROR, "unterminated triple-quoted string",
                      source.span(pos, min(pos + 3, len(source.text))), 'close it with `"""`')


def _eof_help(expected: set[str]) -> str:
    if "RBRACE" in expected:
        return "a `{` is never closed; add `}`"
    if "RSQB" in expected:
        return "a `[` is never closed; add `]`"
    return f"expected {_expected(expected)}"
