"""Lint: rules over the compiler's results, with configuration, suppression, fixes and reports.

    from constlang.lint import LintConfig, lint_paths
    report = lint_paths([Path("constitutions/harmless.const")], LintConfig())
    for d in report.diagnostics: ...

The pipeline, one module each: config (what to run) → engine (compile once, run the rules of
registry over a context) → suppress (inline comments) → baseline → fix → output (formats);
constlang/cli/lint.py wires them into `constlang lint` and `constlang rule`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FileLint", "LintConfig", "LintReport", "RULES", "lint_file", "lint_paths",
           "lint_result"]


def __getattr__(name: str) -> Any:  # imported on first use, so `constlang --help` stays fast
    if name == "LintConfig":
        from constlang.lint.config import LintConfig

        return LintConfig
    if name == "RULES":
        from constlang.lint.registry import RULES

        return RULES
    if name in __all__:
        from constlang.lint import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
