"""Checks, JSON Schema: a draft 2020-12 validator whose `pattern` keywords run on RE2.

The stock validator matches `pattern` and `patternProperties` with Python's backtracking
`re`, so a schema from an untrusted `.const` file could stall a run; here they use the
same linear-time engine as the regex checker. Remote `$ref`s are never fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from constlang.checks.base import ArgError
from constlang.checks.regex import PatternError, compile_pattern

MAX_SCHEMA_CHARS = 65536


def schema_validator(text: str) -> Any:
    """A validator for the schema in `text`; raises ArgError when it is not a usable schema."""
    import jsonschema
    from jsonschema import validators

    if len(text) > MAX_SCHEMA_CHARS:
        raise ArgError("schema", f"the schema is {len(text):,} characters long (at most "
                       f"{MAX_SCHEMA_CHARS:,})")
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = getattr(exc, "pos", None)
        raise ArgError("schema", f"the schema is not valid JSON: {getattr(exc, 'msg', exc)}",
                       where) from None
    if not isinstance(schema, (dict, bool)):
        raise ArgError("schema", "a JSON Schema is an object (or true/false)",
                       help='e.g. schema = """{"type": "object", "required": ["answer"]}"""')
    base = jsonschema.Draft202012Validator
    try:
        base.check_schema(schema)
        for key, value in _keywords(schema):
            if key == "pattern":
                compile_pattern(value)
            elif key in ("$ref", "$dynamicRef") and not value.startswith("#"):
                raise ArgError("schema", f"`{key}` names {value[:60]!r}: only references "
                               "inside the schema (`#/$defs/...`) are allowed; nothing is "
                               "fetched", help="put the referenced schema under `$defs`")
    except jsonschema.SchemaError as exc:
        raise ArgError("schema", f"not a valid JSON Schema: {exc.message[:200]}") from None
    except PatternError as exc:
        raise ArgError("schema", f"a `pattern` in the schema: {exc.message}") from None
    except RecursionError:
        raise ArgError("schema", "the schema is nested too deeply") from None
    cls = validators.extend(base, {"pattern": _pattern, "patternProperties": _pattern_props})
    return cls(schema)


def _keywords(schema: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(keyword, string) for every regular expression (`pattern`, `patternProperties` keys)
    and reference (`$ref`, `$dynamicRef`) a schema holds."""
    if depth > 200:
        raise RecursionError
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("pattern", "$ref", "$dynamicRef") and isinstance(value, str):
                yield key, value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from (("pattern", p) for p in value)
            yield from _keywords(value, depth + 1)
    elif isinstance(schema, list):
        for value in schema:
            yield from _keywords(value, depth + 1)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return compile_pattern(pattern)


def _search(pattern: str, text: str) -> bool:
    return _compiled(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema import ValidationError

    if isinstance(instance, str) and not _search(pattern, instance):
        yield ValidationError(f"{instance[:40]!r} does not match {pattern[:40]!r}")


def _pattern_props(validator: Any, props: dict[str, Any], instance: Any,
                   schema: Any) -> Iterator[Any]:
    if not isinstance(instance, dict):
        return
    for pattern, subschema in props.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)
