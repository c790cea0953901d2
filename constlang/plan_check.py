"""Plan integrity: the rules a plan must meet beyond its types (a plan file is untrusted input).

The compiler only writes plans that meet them; `constlang train plan.json` reads plans that may
have been written by hand or by anyone, so `Plan` runs these checks whenever it is validated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from constlang.declarations import names
from constlang.kinds import BY_NAME
from constlang.served import find_secret, secret_message

MAX_SHOWN = 60  # characters of a name quoted in a message


def _q(name: object) -> str:
    text = str(name)
    return f"`{text[:MAX_SHOWN]}…`" if len(text) > MAX_SHOWN else f"`{text}`"


def _duplicates(kind: str, ids: list[str]) -> Iterator[str]:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            yield f"two {kind} declarations are named {_q(ident)}"
        seen.add(ident)


def problems(plan: Any) -> Iterator[str]:
    """Every rule `plan` breaks, as one line each (none for a plan the compiler wrote)."""
    pools = {"principle": [d.id for d in plan.principles],
             "check": [d.id for d in plan.checks],
             "question": [d.id for d in plan.questions],
             "example": [d.id for d in plan.examples],
             "model": [d.id for d in plan.models],
             "dataset": [d.id for d in plan.datasets],
             "stage": [s.name for s in plan.stages]}
    for kind, ids in pools.items():
        yield from _duplicates(kind, ids)
    known = {kind: set(ids) for kind, ids in pools.items()}
    yield from _check_problems(plan, known["check"])
    yield from _served_problems(plan)
    earlier: dict[str, str] = {}  # stage name → kind, of the stages before the one checked
    for stage in plan.stages:
        yield from _stage_problems(stage, known, earlier)
        earlier[stage.name] = stage.kind
    staged = [p.stage for p in plan.programs]
    yield from _duplicates("program", staged)
    for program in plan.programs:
        if program.stage not in known["stage"]:
            yield f"a prompt program names stage {_q(program.stage)}, which the plan lacks"
            continue
        for step in program.steps:
            if step.model not in known["model"] and step.model not in known["stage"]:
                yield (f"step `{step.name}` of stage {_q(program.stage)} calls "
                       f"{_q(step.model)}, which is neither a model nor a stage")


def _check_problems(plan: Any, checks: set[str]) -> Iterator[str]:
    """Checks named by principles and questions exist; built-in checkers take their args."""
    from constlang.checks.builtin import BUILTIN
    from constlang.checks.regex import MAX_PATTERNS, patterns_in

    for decl in [*plan.principles, *plan.questions]:
        for name in decl.checks:
            if name not in checks:
                yield f"{_q(decl.id)} names check {_q(name)}, which the plan lacks"
    if sum(patterns_in(c.checker, c.args) for c in plan.checks) > MAX_PATTERNS:
        yield f"the plan's checks hold more than {MAX_PATTERNS} regular expressions"
        return
    for check in plan.checks:
        cls = BUILTIN.get(check.checker)
        if cls is None:
            continue  # an installed checker: its package checks its arguments when it runs
        try:
            cls(cls.Args.model_validate(check.args))
        except Exception as exc:  # ArgError or pydantic's ValidationError, as one line
            first = str(exc).splitlines()[0]
            yield f"check {_q(check.id)}: {first[:200]}"


def _served_problems(plan: Any) -> Iterator[str]:
    """No string of the plan looks like an API key, and no served model fills a role that
    trains (the checker's E118 and E119; models check themselves, served.model_problems)."""
    secret = next(filter(None, map(find_secret, _strings(plan.content()))), None)
    if secret is not None:
        yield secret_message(secret)[0].replace("constitution", "plan")
    served = {m.id for m in plan.models if m.endpoint is not None}
    for stage in plan.stages if served else ():
        record = BY_NAME[stage.kind]
        for setting, why in record.local_models.items():
            target = getattr(stage.settings, setting, None)
            if target is None and setting == "model" and record.default_model is not None:
                base = plan.base_model(stage.name)  # left out: the weights it would load
                target = base.id if base is not None else None
            if target in served:
                yield (f"stage {_q(stage.name)}: `{setting}` is {_q(target)}, a served model, "
                       f"but {why}")


def _strings(value: Any) -> Iterator[str]:
    """Every string in plain JSON data, keys included, without recursion."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)


def _stage_problems(stage: Any, known: dict[str, set[str]],
                    earlier: dict[str, str]) -> Iterator[str]:
    """The broken references of one stage; `earlier` holds the stages that run before it."""
    where = f"stage {_q(stage.name)}"
    for dep in stage.depends_on:
        if dep == stage.name:
            yield f"{where} depends on itself"
        elif dep not in earlier:
            yield (f"{where} depends on {_q(dep)}, which is not a stage before it "
                   "(stages are listed in the order they run)")
    record = BY_NAME[stage.kind]
    settings = stage.settings
    for key, info in type(settings).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        ref_kinds = str(extra.get("ref") or "").split("|")
        value = getattr(settings, key)
        if not extra.get("ref") or value is None or ref_kinds == ["template"]:
            continue
        setting = info.alias or key
        if extra.get("selection"):
            pool = known[ref_kinds[0]]
            for name in value:
                if name != "all" and name not in pool:
                    yield f"{where}: `{setting}` selects {_q(name)}, no {ref_kinds[0]} of the plan"
            continue
        for name in names(value):
            yield from _reference(where, setting, name, ref_kinds, stage, known, earlier,
                                  record.stage_refs.get(setting))


def _reference(where: str, setting: str, name: str, ref_kinds: list[str], stage: Any,
               known: dict[str, set[str]], earlier: dict[str, str],
               allowed: tuple[str, ...] | None) -> Iterator[str]:
    """What is wrong with `setting = name`, if anything."""
    if "stage" in ref_kinds and name in known["stage"]:
        if name not in earlier:
            yield f"{where}: `{setting}` names stage {_q(name)}, which does not run before it"
        elif name not in stage.depends_on:
            yield (f"{where}: `{setting}` names stage {_q(name)}, which is missing from its "
                   "`depends_on`")
        elif allowed and earlier[name] not in allowed:
            yield (f"{where}: `{setting}` names stage {_q(name)} ({earlier[name]}); it takes "
                   f"a stage of kind {', '.join(allowed)}")
        return
    if any(name in known.get(kind, ()) for kind in ref_kinds if kind != "stage"):
        return
    yield f"{where}: `{setting}` names {_q(name)}, no {' or '.join(ref_kinds)} of the plan"
