"""Edits: formatting (document and range) through the formatter, and code actions — lint
fixes, did-you-mean replacements, suppression comments, fix-all."""

from __future__ import annotations

import difflib
import re

from lsprotocol import types as T

from constlang.errors import Diagnostic, Severity
from constlang.lsp.analysis import Analysis
from constlang.lsp.diagnostics import own_diagnostic
from constlang.lsp.positions import LineIndex

_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
_SUPPRESSION = re.compile(r"^(\s*)#\s*constlang\s*:\s*ignore\[([^\]]*)\](.*)$")
FIX_ALL = T.CodeActionKind.SourceFixAll + ".constlang"


def format_edits(text: str, encoding: str, within: T.Range | None = None) -> list[T.TextEdit]:
    """Edits that turn `text` into its canonical layout; with `within`, only the changed
    line blocks that touch that range. Raises FormatError when the text does not parse."""
    from constlang.syntax.format import format_source

    new = format_source(text)
    if new == text:
        return []
    old_lines = text.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    lines = LineIndex(text, encoding)
    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if within is not None and not (i1 <= within.end.line and i2 - 1 >= within.start.line
                                       or i1 == i2 and within.start.line <= i1 <= within.end.line):
            continue
        edits.append(T.TextEdit(lines.range(starts[i1], starts[i2]), "".join(new_lines[j1:j2])))
    return edits


def code_actions(a: Analysis, text: str, rng: T.Range, encoding: str,
                 docs_base: str | None = None) -> list[T.CodeAction]:
    """The actions for the diagnostics overlapping `rng` of the analysed buffer."""
    if a.text != text or a.display is None:
        return []  # the analysis is of an older text: its offsets would land wrongly
    lines = LineIndex(text, encoding)
    out: list[T.CodeAction] = []
    for d in _own(a):
        assert d.span is not None
        r = lines.span_range(d.span)
        if (r.end.line, r.end.character) < (rng.start.line, rng.start.character) or \
                (r.start.line, r.start.character) > (rng.end.line, rng.end.character):
            continue
        related = [own_diagnostic(d, a, lines, encoding, docs_base)]
        if d.fix is not None:
            edits = [T.TextEdit(lines.range(e.start, e.end), e.text) for e in d.fix.edits]
            out.append(T.CodeAction(
                f"{d.code}: {d.fix.message}" + ("" if d.fix.safe else " (unsafe fix)"),
                kind=T.CodeActionKind.QuickFix, diagnostics=related,
                is_preferred=d.fix.safe, edit=_edit(a, edits)))
        m = _DID_YOU_MEAN.search(d.help or "")
        if m and d.span.end > d.span.start:
            out.append(T.CodeAction(
                f"replace with `{m.group(1)}`", kind=T.CodeActionKind.QuickFix,
                diagnostics=related, is_preferred=d.fix is None,
                edit=_edit(a, [T.TextEdit(lines.span_range(d.span), m.group(1))])))
        if d.severity is not Severity.ERROR:
            out += _suppressions(a, d, lines, related)
    fixable = [d for d in _own(a) if d.fix is not None and d.fix.safe]
    if fixable:
        out.append(fix_all(a, encoding))
    return out


def _own(a: Analysis) -> list[Diagnostic]:
    return [d for d in a.diagnostics if d.span is not None and d.span.file == a.display]


def _edit(a: Analysis, edits: list[T.TextEdit]) -> T.WorkspaceEdit:
    from constlang.lsp.positions import uri_of

    return T.WorkspaceEdit(changes={uri_of(a.path): edits})


def _suppressions(a: Analysis, d: Diagnostic, lines: LineIndex,
                  related: list[T.Diagnostic] | None) -> list[T.CodeAction]:
    assert d.span is not None
    text = a.text
    line_no = d.span.line  # 1-based
    start = lines.line_col(line_no, 1)
    line = text[start:text.find("\n", start) if "\n" in text[start:] else len(text)]
    indent = re.match(r"\s*", line).group(0)  # type: ignore[union-attr]
    prev_start = lines.line_col(line_no - 1, 1) if line_no > 1 else None
    edit: T.TextEdit
    if prev_start is not None:
        prev = text[prev_start:start - 1]
        m = _SUPPRESSION.match(prev)
        if m:
            codes = [c.strip() for c in m.group(2).split(",") if c.strip()] + [d.code]
            new = f"{m.group(1)}# constlang: ignore[{', '.join(dict.fromkeys(codes))}]{m.group(3)}"
            edit = T.TextEdit(lines.range(prev_start, start - 1), new)
        else:
            edit = T.TextEdit(lines.range(start, start), f"{indent}# constlang: ignore[{d.code}]\n")
    else:
        edit = T.TextEdit(lines.range(start, start), f"{indent}# constlang: ignore[{d.code}]\n")
    out = [T.CodeAction(f"suppress {d.code} here (add `# constlang: ignore[{d.code}]`)",
                        kind=T.CodeActionKind.QuickFix, diagnostics=related,
                        edit=_edit(a, [edit]))]
    header = re.match(r"constlang[ \t]+\d+[^\n]*\n", text)
    at = header.end() if header else 0
    out.append(T.CodeAction(f"suppress {d.code} in this file (add `# constlang: "
                            f"ignore-file[{d.code}]`)", kind=T.CodeActionKind.QuickFix,
                            diagnostics=related, edit=_edit(a, [T.TextEdit(
                                lines.range(at, at), f"# constlang: ignore-file[{d.code}]\n")])))
    return out


def fix_all(a: Analysis, encoding: str) -> T.CodeAction:
    """Every safe fix at once, as `constlang lint --fix` applies them in one pass."""
    from constlang.lint.fix import apply_fixes

    new, done = apply_fixes(a.text, _own(a), unsafe=False)
    lines = LineIndex(a.text, encoding)
    return T.CodeAction(f"apply {len(done)} safe constlang fix{'es' * (len(done) != 1)}",
                        kind=FIX_ALL,
                        edit=_edit(a, [T.TextEdit(lines.range(0, len(a.text)), new)]))
