"""Config: lint settings from `[tool.constlang.lint]` in pyproject.toml or `[lint]` in
constlang.toml, merged with command-line options, and the rule selection they make."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from constlang.errors import Severity, UsageError, did_you_mean
from constlang.lint.rule import CATEGORIES, Rule

KEYS = ("select", "extend-select", "ignore", "severity", "per-file-ignores", "exclude",
        "fail-level", "output-format")
OUTPUT_FORMATS = ("full", "concise", "json", "github", "sarif", "junit")
COMPILER_WARNING_RE = re.compile(r"W[0-9]{3}")


class ConfigError(UsageError):
    """The configuration (a file or the command line) is not valid; a usage error."""


@dataclass(frozen=True)
class LintConfig:
    select: tuple[str, ...] | None = None  # None: the rules marked default
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)  # selector → severity
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    fail_level: Severity = Severity.WARNING
    output_format: str = "full"
    root: Path = field(default_factory=Path.cwd)  # where relative patterns start
    path: Path | None = None  # the file it was read from

    def with_cli(self, **options: Any) -> LintConfig:
        """This config with the command-line options that were given (None: not given)."""
        given = {k: v for k, v in options.items() if v is not None}
        if "extend_select" in given:
            given["extend_select"] = self.extend_select + tuple(given["extend_select"])
        if "ignore" in given:
            given["ignore"] = self.ignore + tuple(given["ignore"])
        return replace(self, **given)

    def relative(self, path: str | Path) -> str:
        p = Path(path).resolve()
        try:
            return p.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    def excluded(self, path: str | Path) -> bool:
        return _matches(self.relative(path), self.exclude)

    def ignored_for(self, path: str | Path) -> tuple[str, ...]:
        rel = self.relative(path)
        out: list[str] = []
        for pattern, selectors in self.per_file_ignores.items():
            if _matches(rel, (pattern,)):
                out.extend(selectors)
        return tuple(out)


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or ("/" not in p and fnmatch.fnmatchcase(name, p))
               or rel.startswith(p.rstrip("/") + "/") for p in patterns)


def find_config(start: Path) -> Path | None:
    """The nearest constlang.toml, or pyproject.toml with a [tool.constlang] table, upward."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for d in (folder, *folder.parents):
        if (d / "constlang.toml").is_file():
            return d / "constlang.toml"
        py = d / "pyproject.toml"
        if py.is_file() and "constlang" in _read_toml(py).get("tool", {}):
            return py
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when a config file exists: `check` imports this module at start-up

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(path: Path | None) -> LintConfig:
    """The lint settings of a config file (the defaults for None)."""
    if path is None:
        return LintConfig()
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("constlang", {})
        where = "[tool.constlang.lint]"
    else:
        table = data
        where = "[lint]"
        if "tool" in data:
            raise ConfigError(f"{path}: constlang.toml takes the settings under [lint]; "
                              "[tool.constlang.lint] is the pyproject.toml spelling")
    misplaced = [k for k in table if k in KEYS]
    if misplaced:
        raise ConfigError(f"{path}: `{misplaced[0]}` belongs in {where}, not above it")
    lint = table.get("lint", {})
    if not isinstance(lint, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    return _parse(lint, path, where)


def _parse(table: dict[str, Any], path: Path, where: str) -> LintConfig:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{path}: {where}: {msg}")

    for key in table:
        if key not in KEYS:
            hint = did_you_mean(key, KEYS)
            raise fail(f"unknown key `{key}`" + (f" ({hint})" if hint else ""))

    def strings(key: str) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"`{key}` must be a list of strings")
        return tuple(value)

    severity: dict[str, Severity] = {}
    for sel, level in (table.get("severity") or {}).items():
        severity[sel] = parse_severity(level, lambda m, s=sel: fail(f"severity of `{s}`: {m}"))
    pfi: dict[str, tuple[str, ...]] = {}
    raw_pfi = table.get("per-file-ignores") or {}
    if not isinstance(raw_pfi, dict):
        raise fail("`per-file-ignores` must be a table of pattern = [codes]")
    for pattern, codes in raw_pfi.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise fail(f"per-file-ignores `{pattern}` must be a list of codes")
        pfi[pattern] = tuple(codes)
    fmt = table.get("output-format", "full")
    if fmt not in OUTPUT_FORMATS:
        raise fail(f"`output-format` must be one of {', '.join(OUTPUT_FORMATS)}")
    return LintConfig(
        select=strings("select"), extend_select=strings("extend-select") or (),
        ignore=strings("ignore") or (), severity=severity, per_file_ignores=pfi,
        exclude=strings("exclude") or (),
        fail_level=parse_severity(table.get("fail-level", "warning"),
                                  lambda m: fail(f"`fail-level`: {m}")),
        output_format=fmt, root=path.parent, path=path)


def parse_severity(value: object, fail: Any = ConfigError) -> Severity:
    words = [s.value for s in Severity]
    if value not in words:
        raise fail(f"expected one of {', '.join(words)}, got {value!r}")
    return Severity(str(value))


# ---------------------------------------------------------------- selection

def matching(selector: str, rules: Sequence[Rule]) -> list[Rule]:
    """The rules a selector names: ALL, a code or code prefix, a rule name or a category."""
    if selector == "ALL":
        return list(rules)
    if selector in CATEGORIES:
        return [r for r in rules if r.category == selector]
    by_name = [r for r in rules if r.name == selector]
    if by_name:
        return by_name
    return [r for r in rules if r.code.startswith(selector)] if selector.startswith("CL") else []


def check_selectors(selectors: Iterable[str], rules: Sequence[Rule], what: str) -> None:
    for sel in selectors:
        if COMPILER_WARNING_RE.fullmatch(sel) and what != "select":
            continue
        if not matching(sel, rules):
            known = [r.code for r in rules] + [r.name for r in rules] + list(CATEGORIES)
            hint = did_you_mean(sel, known)
            raise ConfigError(f"{what}: `{sel}` matches no rule" + (f" ({hint})" if hint else ""))


def enabled_rules(config: LintConfig, rules: Sequence[Rule],
                  extra_ignores: Sequence[str] = ()) -> list[Rule]:
    """The rules to run, in registry order: selected, extended, minus ignored."""
    check_selectors(config.select or (), rules, "select")
    check_selectors(config.extend_select, rules, "extend-select")
    check_selectors((*config.ignore, *extra_ignores), rules, "ignore")
    check_selectors(config.severity, rules, "severity")
    if config.select is None:
        chosen = {r.code for r in rules if r.default}
    else:
        chosen = {r.code for sel in config.select for r in matching(sel, rules)}
    chosen |= {r.code for sel in config.extend_select for r in matching(sel, rules)}
    chosen -= {r.code for sel in (*config.ignore, *extra_ignores) for r in matching(sel, rules)}
    return [r for r in rules if r.code in chosen]


def ignored_compiler_codes(config: LintConfig, extra: Sequence[str] = ()) -> set[str]:
    """Compiler warning codes (W...) that `ignore` or per-file-ignores silence."""
    return {s for s in (*config.ignore, *extra) if COMPILER_WARNING_RE.fullmatch(s)}


def severity_of(rule: Rule, config: LintConfig, rules: Sequence[Rule]) -> Severity:
    """A rule's severity: the most specific matching `severity` entry, else its default."""
    best: tuple[int, Severity] | None = None
    for sel, level in config.severity.items():
        if rule in matching(sel, rules):
            rank = 99 if sel in (rule.code, rule.name) else len(sel) if sel.startswith("CL") \
                else 1 if sel != "ALL" else 0
            if best is None or rank > best[0]:
                best = (rank, level)
    return best[1] if best else rule.severity
