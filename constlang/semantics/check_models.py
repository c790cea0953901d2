"""Check, models: each model's source or endpoint (E117), API keys written anywhere in a file
(E118), and the stage roles a served model cannot fill because they train (E119)."""

from __future__ import annotations

from collections.abc import Iterator

from constlang.errors import Diagnostics
from constlang.kinds import BY_NAME
from constlang.kinds.record import StageKind
from constlang.semantics.check_checks import span_inside
from constlang.semantics.check_declarations import Checked, DeclChecker, anchor
from constlang.semantics.resolve import World
from constlang.served import find_secret, model_problems, secret_message
from constlang.span import Span
from constlang.syntax import ast


def check_models(c: DeclChecker, models: dict[str, Checked]) -> None:
    """A model has exactly one of `source` and `endpoint`, and only the fields that apply."""
    for name, ch in models.items():
        node = ch.symbol.node
        assert isinstance(node, ast.Declaration)
        for problem in model_problems(name, ch.values, set(ch.spans)):
            span = anchor(ch.symbol)
            written = node.field(problem.field) if problem.field else None
            if problem.field == "endpoint" and "endpoint" in ch.spans:
                span = ch.spans["endpoint"]  # the URL itself
            elif written is not None:
                span = written.name_span if problem.field != "api_key_env" else \
                    ch.spans["api_key_env"]
            c.diags.error("E117", problem.message, span, problem.help)
            ch.ok = False


def check_secrets(world: World, diags: Diagnostics) -> None:
    """No string in a project's files looks like an API key (the bundled std/ is ours)."""
    for loaded in world.modules.values():
        if loaded.rel.startswith("std/"):
            continue
        for value in _strings(loaded.module):
            secret = find_secret(value.value)
            if secret is None:
                continue
            span = span_inside(world, value, secret.start, secret.end - secret.start)
            message, help_ = secret_message(secret)
            diags.error("E118", message, span or value.span, help_)


def _strings(module: ast.Module) -> Iterator[ast.Str]:
    """Every string literal of a module: names, import paths, field values, template bodies."""
    for item in module.items:
        if isinstance(item, ast.Constitution):
            yield item.name
        if isinstance(item, ast.Import):
            yield item.path
        if isinstance(item, ast.Template):
            yield item.body
        for f in getattr(item, "fields", ()):
            yield from _in_value(f.value)


def _in_value(value: ast.Value) -> Iterator[ast.Str]:
    if isinstance(value, ast.Str):
        yield value
    elif isinstance(value, ast.List):
        for item in value.items:  # lists hold no lists: the grammar's values are flat
            if isinstance(item, ast.Str):
                yield item


def check_served_roles(c: DeclChecker, stages: dict[str, Checked],
                       models: dict[str, Checked]) -> None:
    """A served model cannot be a stage's model where the stage trains (or runs it
    in-process while training): the setting as written, or its default."""
    served = {name for name, ch in models.items() if ch.values.get("endpoint") is not None}
    if not served:
        return
    for name, ch in stages.items():
        record = BY_NAME.get(ch.values.get("kind") or "")
        if record is None:
            continue
        for setting, why in record.local_models.items():
            target, span, how = _role_model(ch, record, setting, stages)
            if target not in served:
                continue
            c.diags.error("E119", f"stage `{name}`: `{setting}`{how} is `{target}`, a served "
                          f"model, but {why}", span,
                          f"name a model with weights (a `source`){_or_stage(setting)}, e.g. "
                          f"`{setting} = assistant`; served models may only generate or score "
                          "(critique_revision, feedback, best_of_n, evaluate)")
            ch.ok = False


def _or_stage(setting: str) -> str:
    return " or a stage" if setting == "policy" else ""


def _role_model(ch: Checked, record: StageKind, setting: str,
                stages: dict[str, Checked]) -> tuple[object, Span, str]:
    """The model a setting names (written, or by the kind's default), where to point, and how
    it was chosen in words."""
    at = anchor(ch.symbol)
    if setting in ch.values:
        return ch.values[setting], ch.spans[setting], ""
    if record.default_model is None or setting != "model":
        return None, at, ""
    upstream, sub = record.default_model
    first = ch.values.get(upstream)
    first = first[0] if isinstance(first, list) and first else first
    source = stages.get(first) if isinstance(first, str) else None
    if source is None:
        return None, at, ""
    span = ch.spans.get(upstream, at)
    if source.values.get(sub) is not None:
        return source.values[sub], span, f" (by default the `{sub}` of stage `{first}`)"
    return _weights_of(stages, str(first)), span, f" (by default the model behind stage `{first}`)"


def _weights_of(stages: dict[str, Checked], name: str) -> str | None:
    """The model whose weights stage `name` passes on (as Plan.base_model follows them): None
    at a stage that trains (it is checked itself), or when the chain ends or loops."""
    seen: set[str] = set()
    while name in stages and name not in seen:
        seen.add(name)
        record = BY_NAME.get(stages[name].values.get("kind") or "")
        if record is None or record.local_models or record.base_model is None:
            return None
        following = stages[name].values.get(record.base_model)
        following = following[0] if isinstance(following, list) and following else following
        if not isinstance(following, str):
            return None
        name = following
    return None if name in stages else name
